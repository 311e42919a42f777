{
  "targets": [
    {
      "target_name": "fitspec_graph",
      "sources": ["graph.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(tf_dir)/include"],
      "defines": ["NAPI_VERSION=<(napi_build_version)", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["<(tf_dir)/libtensorflow_cc.so.2", "<(tf_dir)/libtensorflow_framework.so.2", "-Wl,-rpath,<(tf_dir)"]
    }
  ]
}
