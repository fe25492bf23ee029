/**
 * @module torchlight/util/net: address helpers shared by the layers.
 */

/** Whether `host` names this machine's loopback (127.0.0.0/8, ::1, localhost): everything on it stays on this machine. */
export const isLoopback = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(host);
