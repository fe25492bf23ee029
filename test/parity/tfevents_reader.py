"""Reads a TensorBoard event file without TensorFlow: TFRecord frames (with both masked
CRC-32C checked, CRC computed here bit by bit, independently of torchlight's table) and the
Event / Summary protobuf fields torchlight writes. Prints the events as JSON."""
import json, struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]; i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80: return result, i
        shift += 7

def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0: v, i = varint(buf, i)
        elif wire == 1: v = struct.unpack("<d", buf[i:i+8])[0]; i += 8
        elif wire == 5: v = struct.unpack("<f", buf[i:i+4])[0]; i += 4
        elif wire == 2:
            n, i = varint(buf, i); v = buf[i:i+n]; i += n
        else: raise ValueError(f"wire type {wire}")
        yield field, v

events = []
data = open(sys.argv[1], "rb").read()
i = 0
while i < len(data):
    header = data[i:i+8]
    (length,) = struct.unpack("<Q", header)
    (hcrc,) = struct.unpack("<I", data[i+8:i+12])
    assert hcrc == masked(header), "length CRC mismatch"
    body = data[i+12:i+12+length]
    (bcrc,) = struct.unpack("<I", data[i+12+length:i+16+length])
    assert bcrc == masked(body), "data CRC mismatch"
    i += 16 + length
    ev = {}
    for f, v in fields(body):
        if f == 1: ev["wall_time"] = v
        elif f == 2: ev["step"] = v
        elif f == 3: ev["version"] = v.decode()
        elif f == 5:
            scalars = {}
            for sf, sv in fields(v):
                if sf == 1:
                    tag = val = None
                    for vf, vv in fields(sv):
                        if vf == 1: tag = vv.decode()
                        elif vf == 2: val = vv
                    scalars[tag] = val
            ev["scalars"] = scalars
    events.append(ev)
print(json.dumps(events))
