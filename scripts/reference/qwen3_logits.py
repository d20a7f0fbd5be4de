#!/usr/bin/python3
"""Independent reference for synthetic Qwen3 rerankers (Qwen3ForCausalLM layout).

Reads config.json + model.safetensors with the standard library and PyTorch only, runs a
plain float64 forward pass of the Qwen3 decoder (RMSNorm, rotary embeddings, grouped-query
causal attention with per-head q/k RMSNorm, SwiGLU, tied or untied output layer) and prints,
for each sequence, the logits of the requested token ids at its last real position.

    qwen3_logits.py <model_dir> [--bf16] < batch.json > logits.json

batch.json: {"sequences": [[ids...], ...], "token_ids": [yes_id, no_id]}
Output: {"logits": [[logit_yes, logit_no], ...], "onnx_check": "ok" | "<error>"} (each
sequence run on its own: no padding; onnx.checker validates onnx/model.onnx when python3-onnx
is installed).

--bf16: the same model as transformers runs it in bfloat16 (weights, hidden states and the
residual stream rounded to bf16; RMSNorm statistics, attention scores and softmax in fp32;
products summed in fp32 and rounded, as tensor cores do). Not a reference: an estimate of the
error the bf16 format itself brings on a model, which no bf16 engine can be expected to beat.
"""
import json
import sys

import torch

from encoder_logits import onnx_check, read_safetensors  # same folder: shared file reading and checks


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


BF16 = torch.bfloat16


def forward(c, w, ids, wanted, bf16=False):
    """The decoder in float64; with bf16, as transformers' Qwen3 modules run it in bf16
    (Qwen3RMSNorm, rotary, SDPA, Qwen3MLP): w then holds the weights rounded to bf16, in fp32
    (exact), so products need no conversion."""
    S = len(ids)
    H, nH, nKV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or H // nH
    eps = c["rms_norm_eps"]
    # stored: a tensor as the model keeps it between steps; wide: as sums and statistics read it.
    stored = (lambda t: t.to(BF16)) if bf16 else (lambda t: t)
    wide = (lambda t: t.float()) if bf16 else (lambda t: t)

    def linear(x, name):  # in bf16: fp32 sums, the result rounded (tensor cores)
        return stored(wide(x) @ w[name].T)

    def norm(x, name):  # in bf16 (Qwen3RMSNorm): fp32 statistics, cast back, then the weight in bf16
        x = wide(x)
        return stored(w[name]) * stored(x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))

    x = stored(w["model.embed_tokens.weight"][torch.tensor(ids)])
    angles = torch.float32 if bf16 else torch.float64
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=angles) / hd))
    freqs = torch.outer(torch.arange(S, dtype=angles), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = stored(emb.cos()), stored(emb.sin())
    causal = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = norm(x, p + "input_layernorm.weight")
        q = norm(linear(h, p + "self_attn.q_proj.weight").view(S, nH, hd), p + "self_attn.q_norm.weight")
        k = norm(linear(h, p + "self_attn.k_proj.weight").view(S, nKV, hd), p + "self_attn.k_norm.weight")
        v = linear(h, p + "self_attn.v_proj.weight").view(S, nKV, hd)
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        group = nH // nKV
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        # In bf16 as flash-style SDPA: fp32 scores and softmax, probabilities rounded for P V.
        scores = torch.einsum("shd,thd->hst", wide(q), wide(k)) / (hd ** 0.5)
        probs = stored(torch.softmax(scores.masked_fill(causal[None], float("-inf")), dim=-1))
        ctx = stored(torch.einsum("hst,thd->shd", wide(probs), wide(v))).reshape(S, nH * hd)
        x = x + linear(ctx, p + "self_attn.o_proj.weight")
        h = norm(x, p + "post_attention_layernorm.weight")
        gate = linear(h, p + "mlp.gate_proj.weight")
        up = linear(h, p + "mlp.up_proj.weight")
        x = x + linear(torch.nn.functional.silu(gate) * up, p + "mlp.down_proj.weight")
    last = norm(x[-1], "model.norm.weight")
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return (head[torch.tensor(wanted)] @ wide(last)).tolist()


def main():
    d = sys.argv[1]
    with open(d + "/config.json") as f:
        c = json.load(f)
    w = read_safetensors(d + "/model.safetensors")
    batch = json.load(sys.stdin)
    with torch.no_grad():
        bf16 = "--bf16" in sys.argv[2:]
        if bf16:
            w = {name: t.to(BF16).float() for name, t in w.items()}  # rounded once, exact in fp32
        logits = [forward(c, w, seq, batch["token_ids"], bf16) for seq in batch["sequences"]]
    json.dump({"logits": logits, "onnx_check": onnx_check(d)}, sys.stdout)


if __name__ == "__main__":
    main()
