#!/usr/bin/env python3
"""Writes a synthetic BertForSequenceClassification with transformers, on the GPU machine
(which has no Node.js to run `crossrank make-model`; the models are too large to carry).
Shapes follow crossrank's presets; Linear weights ~ N(0, 1/fan_in) as make-model does, so
attention is not uniform and logits spread.

    make_torch_model.py --preset minilm-l6 --out /tmp/minilm [--seed 0]
"""
import argparse
import math

import torch
from transformers import BertConfig, BertForSequenceClassification

PRESETS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64),
    "minilm-l6": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    "bert-large": dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
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
    model.save_pretrained(args.out, safe_serialization=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
