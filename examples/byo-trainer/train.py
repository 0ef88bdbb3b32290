#!/usr/bin/env python3
"""A template for your own trainer, in the shape FlopsFit's bring-your-own protocol expects
(../byo-trainer.sweep.yaml runs it; examples/pytorch/train.py is a complete, runnable one).

    python3 train.py --count-params --width {size}     # print N for a width: the planner runs it
    python3 train.py --width {size} --tokens {tokens} --lr {lr} --seed {seed} --out {runDir}

--count-params works as is (no dependencies): the non-embedding parameter count of a GPT-style
decoder of N_LAYERS layers at that width, 12 * N_LAYERS * width^2 (attention 4 w^2, MLP 8 w^2).
Training is yours to write in train(): print JSON metrics lines while training and, at the end,
{"result": {"finalLoss": <held-out loss in nats per token>}} (see the protocol in the README).
"""
import argparse
import json
import sys

N_LAYERS = 12


def count_params(width: int) -> int:
    return 12 * N_LAYERS * width * width


def train(args) -> int:
    # Replace this with your training loop: build the model at args.width, train on exactly
    # args.tokens tokens, write checkpoints under args.out, and print protocol lines such as
    #   print(json.dumps({"step": step, "tokens": tokens, "trainLoss": loss}), flush=True)
    #   print(json.dumps({"result": {"finalLoss": eval_loss, "tokens": args.tokens}}), flush=True)
    print("train.py is a template: write your training loop in train() (examples/pytorch/train.py is a complete one)", file=sys.stderr)
    return 2


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--count-params", action="store_true")
    p.add_argument("--tokens", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out")
    args = p.parse_args()
    if args.count_params:
        print(count_params(args.width))
        return 0
    if args.tokens is None or args.out is None:
        p.error("--tokens and --out are required to train")
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
