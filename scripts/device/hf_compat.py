"""What differs between the transformers versions a GPU machine may have (4.4x to 5.x), in one
place, so the device check does not fail on an argument a version renamed or removed:
  - `torch_dtype=` became `dtype=` in 4.56 (the old name warns, and may go);
  - `save_pretrained(..., safe_serialization=True)` is a TypeError in 5.0 (safetensors is the
    only format there, and the default since 4.35).
"""
import os

import transformers


def _version():
    parts = []
    for piece in transformers.__version__.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def dtype_kwargs(dtype):
    """from_pretrained's keyword for the weights' dtype in this version."""
    return {"dtype": dtype} if _version() >= (4, 56) else {"torch_dtype": dtype}


def save_safetensors(model, out):
    """save_pretrained in safetensors; fails clearly if the version wrote something else."""
    model.save_pretrained(out)
    if not any(os.path.exists(os.path.join(out, f)) for f in ("model.safetensors", "model.safetensors.index.json")):
        raise SystemExit(f"transformers {transformers.__version__} wrote no safetensors into {out}: {sorted(os.listdir(out))}")
