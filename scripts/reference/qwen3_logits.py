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


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def forward(c, w, ids, wanted):
    S = len(ids)
    H, nH, nKV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or H // nH
    eps = c["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    pos = torch.arange(S, dtype=torch.float64)
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(S, nH, hd)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(S, nKV, hd)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(S, nKV, hd)
        q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
        k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        group = nH // nKV
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("shd,thd->hst", q, k) / (hd ** 0.5)
        scores = scores.masked_fill(causal[None], float("-inf"))
        ctx = torch.einsum("hst,thd->shd", torch.softmax(scores, dim=-1), v).reshape(S, nH * hd)
        x = x + ctx @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    last = rms_norm(x[-1], w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return (head[torch.tensor(wanted)] @ last).tolist()


BF16 = torch.bfloat16


def forward_bf16(c, w, ids, wanted):
    """transformers' Qwen3 modules in bf16 (Qwen3RMSNorm, rotary, SDPA, Qwen3MLP), step by step.
    w: the weights rounded to bf16 and held in fp32 (exact), so products need no conversion."""
    S = len(ids)
    H, nH, nKV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or H // nH
    eps = c["rms_norm_eps"]

    def linear(x, name):  # fp32 sums, the result rounded to bf16 (tensor cores)
        return (x.float() @ w[name].T).to(BF16)

    def norm(x, name):  # Qwen3RMSNorm: fp32 statistics, cast back, then the weight in bf16
        x32 = x.float()
        return w[name].to(BF16) * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(BF16)

    x = w["model.embed_tokens.weight"][torch.tensor(ids)].to(BF16)
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = torch.outer(torch.arange(S, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(BF16), emb.sin().to(BF16)
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
        # Flash-style SDPA: fp32 scores and softmax, probabilities rounded to bf16 for P·V.
        scores = torch.einsum("shd,thd->hst", q.float(), k.float()) / (hd ** 0.5)
        probs = torch.softmax(scores.masked_fill(causal[None], float("-inf")), dim=-1).to(BF16)
        ctx = torch.einsum("hst,thd->shd", probs.float(), v.float()).to(BF16).reshape(S, nH * hd)
        x = x + linear(ctx, p + "self_attn.o_proj.weight")
        h = norm(x, p + "post_attention_layernorm.weight")
        gate = linear(h, p + "mlp.gate_proj.weight")
        up = linear(h, p + "mlp.up_proj.weight")
        x = x + linear(torch.nn.functional.silu(gate) * up, p + "mlp.down_proj.weight")
    last = norm(x[-1], "model.norm.weight")
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return (head[torch.tensor(wanted)] @ last.float()).tolist()


def main():
    d = sys.argv[1]
    with open(d + "/config.json") as f:
        c = json.load(f)
    w = read_safetensors(d + "/model.safetensors")
    batch = json.load(sys.stdin)
    with torch.no_grad():
        run = forward
        if "--bf16" in sys.argv[2:]:
            run = forward_bf16
            w = {name: t.to(BF16).float() for name, t in w.items()}  # rounded once, exact in fp32
        logits = [run(c, w, seq, batch["token_ids"]) for seq in batch["sequences"]]
    json.dump({"logits": logits, "onnx_check": onnx_check(d)}, sys.stdout)


if __name__ == "__main__":
    main()
