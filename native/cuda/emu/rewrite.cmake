# Rewrites a .cu file into C++ for the CPU emulation build (see native/cuda/emu/emu.h):
#   Kernel[<T>]<<<grid, block, shared, stream>>>(args)  ->  ::crossrank_emu::Launch(Kernel, grid, block, shared, stream)(args)
#   extern __shared__ [__align__(N)] T name[];      ->  T* const name = (dynamic shared memory of the block)
# Run as: cmake -DIN=<file.cu> -DOUT=<file.cc> -P rewrite.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "([A-Za-z_][A-Za-z0-9_:]*(<[^<>;]*>)?)<<<" "::crossrank_emu::Launch(\\1, " text "${text}")
string(REPLACE ">>>" ")" text "${text}")
string(REGEX REPLACE "extern __shared__ (__align__\\([0-9]+\\) )?([A-Za-z_][A-Za-z0-9_:]*) ([A-Za-z_][A-Za-z0-9_]*)\\[\\];"
       "\\2* const \\3 = static_cast<\\2*>(::crossrank_emu::DynamicShared());" text "${text}")
if(text MATCHES "<<<|__shared__ +[^;]*\\[\\];")
  message(FATAL_ERROR "${IN}: a launch or dynamic shared array the emulation rewrite does not handle")
endif()
file(WRITE "${OUT}.tmp" "#line 1 \"${IN}\"\n${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
