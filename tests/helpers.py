"""Test-only helpers: the flags of a fast run, running a command that may learn nothing,
reading shards back, and writing a Hugging Face BERT checkpoint."""

import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository's root
FIXTURES = os.path.join(REPO, "tests", "fixtures")  # made once by the scripts beside them


def records(data_dir, manifest):
    """Every example of a prepared folder, decoded."""
    import tensorflow as tf

    from mer_tf.data.schema import decode_example

    out = []
    for shard in manifest["shards"]:
        for raw in tf.data.TFRecordDataset(os.path.join(data_dir, shard["file"])):
            out.append(decode_example(raw.numpy()))
    return out


def write_hf_bert_checkpoint(backbone, vocabulary, path):
    """Writes a keras-hub BertBackbone as a Hugging Face BERT directory
    (config.json, tokenizer_config.json, vocab.txt, model.safetensors): the
    inverse of keras-hub's own converter, so from_preset can load it back."""
    from safetensors.numpy import save_file

    os.makedirs(path, exist_ok=True)
    hidden = backbone.hidden_dim
    tensors = {
        "embeddings.word_embeddings.weight": backbone.get_layer("token_embedding").embeddings,
        "embeddings.position_embeddings.weight":
            backbone.get_layer("position_embedding").position_embeddings,
        "embeddings.token_type_embeddings.weight":
            backbone.get_layer("segment_embedding").embeddings,
        "embeddings.LayerNorm.weight": backbone.get_layer("embeddings_layer_norm").gamma,
        "embeddings.LayerNorm.bias": backbone.get_layer("embeddings_layer_norm").beta,
        "pooler.dense.weight": np.transpose(backbone.get_layer("pooled_dense").kernel),
        "pooler.dense.bias": backbone.get_layer("pooled_dense").bias,
    }
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = block._self_attention_layer
        p = f"encoder.layer.{i}."
        for name, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            tensors[p + f"attention.self.{name}.weight"] = np.transpose(
                np.reshape(np.asarray(dense.kernel), (hidden, hidden)))
            tensors[p + f"attention.self.{name}.bias"] = np.reshape(np.asarray(dense.bias),
                                                                    (hidden,))
        tensors[p + "attention.output.dense.weight"] = np.transpose(
            np.reshape(np.asarray(attention.output_dense.kernel), (hidden, hidden)))
        tensors[p + "attention.output.dense.bias"] = attention.output_dense.bias
        tensors[p + "attention.output.LayerNorm.weight"] = block._self_attention_layer_norm.gamma
        tensors[p + "attention.output.LayerNorm.bias"] = block._self_attention_layer_norm.beta
        tensors[p + "intermediate.dense.weight"] = np.transpose(
            block._feedforward_intermediate_dense.kernel)
        tensors[p + "intermediate.dense.bias"] = block._feedforward_intermediate_dense.bias
        tensors[p + "output.dense.weight"] = np.transpose(block._feedforward_output_dense.kernel)
        tensors[p + "output.dense.bias"] = block._feedforward_output_dense.bias
        tensors[p + "output.LayerNorm.weight"] = block._feedforward_layer_norm.gamma
        tensors[p + "output.LayerNorm.bias"] = block._feedforward_layer_norm.beta
    tensors = {"bert." + k: np.ascontiguousarray(np.asarray(v, dtype=np.float32))
               for k, v in tensors.items()}
    save_file(tensors, os.path.join(path, "model.safetensors"))
    config = {
        "model_type": "bert", "architectures": ["BertModel"],
        "vocab_size": backbone.vocabulary_size, "hidden_size": hidden,
        "num_hidden_layers": backbone.num_layers, "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "max_position_embeddings": backbone.max_sequence_length, "type_vocab_size": 2,
    }
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(vocabulary) + "\n")
    return path


def run_args(prepared, assets, run_dir, *extra):
    """Flags for a fast experiment run on the test corpus with the test backbones."""
    return ["--data-dir", prepared[0], "--speech-model", assets["speech"],
            "--text-preset", assets["text"], "--text-length", "16", "--mocap-frames", "24",
            "--mocap-width", "16", "--mocap-heads", "2", "--mocap-layers", "1", "--batch-size", "8",
            "--learning-rate", "1e-3", "--backbone-learning-rate", "1e-3", "--epochs", "2",
            "--run-dir", str(run_dir), "--quiet",
            *extra]


def train(main, argv):
    """Runs an experiment's `main` for a test about anything but learning: two epochs on
    sixty utterances may teach nothing, which the run marks and exits 3 for."""
    from mer_tf.commands.experiment import FAILED_EXIT_CODE

    try:
        return main(argv)
    except SystemExit as exit_:
        if exit_.code != FAILED_EXIT_CODE:
            raise
        return None
