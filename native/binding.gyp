{
  "targets": [
    {
      "target_name": "ff_native",
      "sources": ["ff_native.c"],
      "libraries": ["-lopenblas", "-fopenmp"],
      "cflags": ["-O3", "-std=gnu11", "-ffp-contract=fast", "-fno-math-errno", "-Wno-psabi", "-fopenmp"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
