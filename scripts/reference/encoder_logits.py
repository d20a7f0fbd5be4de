#!/usr/bin/python3
"""Independent reference for synthetic (and real) encoder cross-encoders and bi-encoders.

Reads config.json + model.safetensors with nothing but the standard library and PyTorch,
runs a plain PyTorch forward pass of BertForSequenceClassification or
XLMRobertaForSequenceClassification, and prints the logits as JSON. For a bare BertModel /
XLMRobertaModel (a sentence-transformers bi-encoder) it prints the pooled, normalised
embeddings instead (pooling from 1_Pooling/config.json: mean over real tokens or [CLS]).
It also checks the model's ONNX graph with onnx.checker (full_check, with shape inference).

    encoder_logits.py <model_dir>  < batch.json  > logits.json

batch.json: {"input_ids": [[...], ...], "attention_mask": [[...], ...], "token_type_ids": [[...], ...]}
(token_type_ids optional). Output: {"logits": [[...], ...], "onnx_check": "ok" | "<error>"}, or
{"embeddings": [[...], ...], ...} for a bi-encoder.
Used by the test suite (test/native/make-model-parity.test.ts); needs Debian's python3-torch
and python3-onnx.
"""
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[base + begin : base + end])
        t = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"]).to(torch.float64)
    return tensors


def forward(config, w, input_ids, attention_mask, token_type_ids):
    arch = config["architectures"][0]
    bare = arch in ("BertModel", "XLMRobertaModel", "RobertaModel")
    bert = arch.startswith("Bert")
    p = "" if bare else ("bert." if bert else "roberta.")
    H = config["hidden_size"]
    heads = config["num_attention_heads"]
    d = H // heads
    eps = config["layer_norm_eps"]
    B, S = input_ids.shape

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def layer_norm(x, name):
        return F.layer_norm(x, (H,), w[name + ".weight"], w[name + ".bias"], eps)

    if bert:
        position_ids = torch.arange(S).unsqueeze(0).expand(B, S)
    else:
        pad = config["pad_token_id"]
        not_pad = (input_ids != pad).long()
        position_ids = torch.cumsum(not_pad, dim=1) * not_pad + pad
        token_type_ids = torch.zeros_like(input_ids)
    x = (
        w[p + "embeddings.word_embeddings.weight"][input_ids]
        + w[p + "embeddings.position_embeddings.weight"][position_ids]
        + w[p + "embeddings.token_type_embeddings.weight"][token_type_ids]
    )
    x = layer_norm(x, p + "embeddings.LayerNorm")
    masked = attention_mask[:, None, None, :] == 0
    for l in range(config["num_hidden_layers"]):
        L = f"{p}encoder.layer.{l}"
        q = linear(x, L + ".attention.self.query").view(B, S, heads, d).transpose(1, 2)
        k = linear(x, L + ".attention.self.key").view(B, S, heads, d).transpose(1, 2)
        v = linear(x, L + ".attention.self.value").view(B, S, heads, d).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        scores = scores.masked_fill(masked, float("-inf"))
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, S, H)
        x = layer_norm(linear(ctx, L + ".attention.output.dense") + x, L + ".attention.output.LayerNorm")
        up = F.gelu(linear(x, L + ".intermediate.dense"))  # exact (erf) GELU
        x = layer_norm(linear(up, L + ".output.dense") + x, L + ".output.LayerNorm")
    if bare:
        return x
    first = x[:, 0]
    if bert:
        return linear(torch.tanh(linear(first, "bert.pooler.dense")), "classifier")
    return linear(torch.tanh(linear(first, "classifier.dense")), "classifier.out_proj")


def pool(model_dir, hidden, attention_mask):
    """sentence-transformers' Pooling + Normalize, in float64."""
    try:
        with open(model_dir + "/1_Pooling/config.json") as f:
            cls = json.load(f).get("pooling_mode_cls_token", False)
    except FileNotFoundError:
        cls = False
    if cls:
        v = hidden[:, 0]
    else:
        m = attention_mask[:, :, None].to(hidden.dtype)
        v = (hidden * m).sum(1) / m.sum(1)
    return F.normalize(v, dim=-1)


def onnx_check(model_dir):
    try:
        import onnx

        onnx.checker.check_model(model_dir + "/onnx/model.onnx", full_check=True)
        return "ok"
    except Exception as e:  # report, do not hide: the test asserts "ok"
        return f"{type(e).__name__}: {e}"


def main():
    model_dir = sys.argv[1]
    with open(model_dir + "/config.json") as f:
        config = json.load(f)
    weights = read_safetensors(model_dir + "/model.safetensors")
    batch = json.load(sys.stdin)
    input_ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    attention_mask = torch.tensor(batch["attention_mask"], dtype=torch.long)
    token_type_ids = torch.tensor(batch.get("token_type_ids") or [[0] * input_ids.shape[1]] * input_ids.shape[0])
    with torch.no_grad():
        out = forward(config, weights, input_ids, attention_mask, token_type_ids)
    if out.dim() == 3:
        json.dump({"embeddings": pool(model_dir, out, attention_mask).tolist(), "onnx_check": onnx_check(model_dir)}, sys.stdout)
    else:
        json.dump({"logits": out.tolist(), "onnx_check": onnx_check(model_dir)}, sys.stdout)


if __name__ == "__main__":
    main()
