#!/usr/bin/env python3
"""Writes a synthetic model with transformers on the GPU machine (which has no Node.js to run
`crossrank make-model`; the models are too large to carry): a BertForSequenceClassification,
or a Qwen3ForCausalLM for the qwen3-* presets (the Qwen3-Reranker layout). Shapes follow
crossrank's presets; initialisation as make-model's (Linear ~ N(0, 1/fan_in), embeddings
~ N(0, 0.5^2), norms ~ N(1, 0.1^2)), so attention is not uniform and scores spread. The
config.json is the one this transformers version writes (e.g. rope_parameters in v5). Qwen3
models are saved in bf16 (as the real checkpoints are), encoders in fp32.

    make_torch_model.py --preset minilm-l6 --out /tmp/minilm [--seed 0]
"""
import argparse
import math

import torch
from transformers import BertConfig, BertForSequenceClassification, Qwen3Config, Qwen3ForCausalLM

from hf_compat import save_safetensors

PRESETS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64),
    "minilm-l6": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    "bert-large": dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096),
}

QWEN3 = dict(vocab_size=151936, rms_norm_eps=1e-6, max_position_embeddings=40960, tie_word_embeddings=True)
ROPE_THETA = 1e6
QWEN3_PRESETS = {
    "qwen3-tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16),
    "qwen3-0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128),
}


def make_qwen3(preset, out):
    config = Qwen3Config(**QWEN3, **QWEN3_PRESETS[preset])
    # transformers 5 keeps rotary settings in rope_parameters, 4.x in rope_theta.
    if isinstance(getattr(config, "rope_parameters", None), dict):
        config.rope_parameters = {**config.rope_parameters, "rope_type": "default", "rope_theta": ROPE_THETA}
    else:
        config.rope_theta = ROPE_THETA
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("embed_tokens.weight"):
                param.normal_(0.0, 0.5)
            elif param.dim() == 2:
                param.normal_(0.0, 1.0 / math.sqrt(param.shape[1]))
            else:  # RMSNorm weights
                param.normal_(1.0, 0.1)
    # Stored in bf16, as Qwen3 checkpoints ship: the fp32 reference then reads exactly the
    # weights a bf16 engine runs, and their rounding is not counted against it.
    save_safetensors(model.to(torch.bfloat16), out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS) + sorted(QWEN3_PRESETS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.preset in QWEN3_PRESETS:
        make_qwen3(args.preset, args.out)
        print(f"wrote {args.out}")
        return
    config = BertConfig(vocab_size=30522, num_labels=1, **PRESETS[args.preset])
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.in_features))
                module.bias.normal_(0.0, 0.05)
            elif isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.1)
                module.bias.normal_(0.0, 0.05)
    save_safetensors(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
