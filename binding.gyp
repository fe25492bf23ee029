{
  "targets": [
    {
      "target_name": "torchlight",
      "sources": [
        "native/src/addon.cpp",
        "native/src/convert.cpp",
        "native/src/runtime.cpp",
        "native/src/errors.cpp",
        "native/src/optim.cpp",
        "native/src/serialize.cpp",
        "native/src/generator.cpp",
        "native/src/share.cpp",
        "native/src/distributed.cpp",
        "native/src/c10d_groups.cpp",
        "native/src/auth_store_server.cpp",
        "native/src/auth_store_client.cpp",
        "native/src/watchdog.cpp",
        "native/src/c10d_js.cpp",
        "native/src/ddp.cpp",
        "native/src/sync_batchnorm.cpp",
        "native/src/generated/ops_0.cpp",
        "native/src/generated/ops_1.cpp",
        "native/src/generated/ops_2.cpp",
        "native/src/generated/ops_3.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node native/find-libtorch.mjs --include)",
        "native/compat"
      ],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "NAPI_CPP_EXCEPTIONS",
        "USE_C10D_GLOO",
        "_GLIBCXX_USE_CXX11_ABI=<!(node native/find-libtorch.mjs --cxx11-abi)",
        "<!@(node native/find-libtorch.mjs --defines)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["<!(node native/find-libtorch.mjs --cxx-std)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "-Wno-unused-variable", "-Wno-missing-field-initializers"],
      "ldflags": ["<!@(node native/find-libtorch.mjs --ldflags)"],
      "libraries": ["<!@(node native/find-libtorch.mjs --libs)"]
    }
  ]
}
