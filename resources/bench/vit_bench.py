#!/usr/bin/python3
"""PyTorch twin of `fissionfusion bench vit` (src/main/engine/models/vit-bench.ts).

torchvision's VisionTransformer of the given dimensions, random images of --size px, --classes
outputs, mean cross-entropy, torch.optim.AdamW (lr 1e-4, weight decay 1e-4); a training step is
forward + backward + update of one batch; inference is a forward pass of one batch without
gradients. Median over the timed steps after the warm-up ones. Prints one JSON object. Run with
Debian's /usr/bin/python3.
"""
import argparse
import json
import resource
import statistics
import time

import torch
from torchvision.models.vision_transformer import VisionTransformer


def main():
    p = argparse.ArgumentParser()
    for k, v in [('size', 224), ('patch', 16), ('layers', 12), ('heads', 6), ('hidden', 384), ('mlp', 1536), ('classes', 10),
                 ('batch', 8), ('steps', 3), ('warmup', 1), ('threads', 1)]:
        p.add_argument(f'--{k}', type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = VisionTransformer(image_size=a.size, patch_size=a.patch, num_layers=a.layers, num_heads=a.heads, hidden_dim=a.hidden,
                            mlp_dim=a.mlp, num_classes=a.classes)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return (r.ru_utime + r.ru_stime) * 1000

    train, train_cpu = [], []
    net.train()
    for i in range(a.warmup + a.steps):
        t, c = time.perf_counter(), cpu()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if i >= a.warmup:
            train.append((time.perf_counter() - t) * 1000)
            train_cpu.append(cpu() - c)
    infer, infer_cpu = [], []
    net.eval()
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            t, c = time.perf_counter(), cpu()
            net(x)
            if i >= a.warmup:
                infer.append((time.perf_counter() - t) * 1000)
                infer_cpu.append(cpu() - c)
    print(json.dumps({
        'train_ms_per_step': statistics.median(train), 'train_cpu_ms_per_step': statistics.median(train_cpu),
        'infer_ms_per_batch': statistics.median(infer), 'infer_cpu_ms_per_batch': statistics.median(infer_cpu),
        'threads': torch.get_num_threads(), 'version': torch.__version__
    }))


if __name__ == '__main__':
    main()
