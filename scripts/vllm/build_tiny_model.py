"""Build the tiny random Llama the real-engine tests serve (no weights can be downloaded here).

Run by scripts/setup.d/40-vllm-engine.sh with the engine venv's python (it needs torch, transformers and
tokenizers, which the project's venv does not carry). Deterministic: a fixed seed for the corpus, the
tokenizer training and the weights, so every machine builds the same model. Writes into --output:
config.json, model.safetensors, the tokenizer files and build-info.json (sizes and a weight checksum).

The outputs are meaningless tokens; callers drive lengths with `max_tokens` + `ignore_eos` and send prompts
as token-id lists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

SEED = 20261204
VOCAB_SIZE = 2048
HIDDEN = 128
LAYERS = 2
HEADS = 2  # head_dim 64: a head size every vLLM CPU attention backend supports
INTERMEDIATE = 256
MAX_POSITIONS = 4096
SPECIAL = ["<s>", "</s>", "<unk>"]


def corpus(n_lines: int, rng: random.Random) -> list[str]:
    """Generated text: pseudo-words from a fixed syllable set, enough for a 2k-entry BPE vocabulary."""
    syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    punct = [".", ",", "?", "!", ";", ""]
    lines = []
    for _ in range(n_lines):
        n = rng.randint(5, 25)
        lines.append(" ".join(rng.choice(words) for _ in range(n)) + rng.choice(punct))
    return lines


def build_tokenizer(lines: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args()
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(SEED)
    tok = build_tokenizer(corpus(20000, rng))
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    hf_tok.model_max_length = MAX_POSITIONS
    hf_tok.save_pretrained(out)
    vocab = tok.get_vocab_size()

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tok.token_to_id("<s>"),
        eos_token_id=tok.token_to_id("</s>"),
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.eval()
    model.save_pretrained(out, safe_serialization=True)

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    info = {
        "seed": SEED,
        "vocab_size": vocab,
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": MAX_POSITIONS,
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": digest.hexdigest(),
    }
    (out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(info))


if __name__ == "__main__":
    main()
