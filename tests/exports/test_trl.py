"""The preference export trains with TRL's RewardTrainer unchanged (tiny Llama, tokenizer trained offline)."""

import pytest

from exports.services import build_dataset_version, create_dataset_version, materialize


def tiny_tokenizer(texts, folder):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(folder)
    return fast


@pytest.mark.long(15)
def test_reward_trainer_accepts_the_preference_export(project, make_tasks, labelers, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    from datasets import load_dataset
    from transformers import LlamaConfig, LlamaForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from annotation.claims import claim_next_ranking_task, submit_ranking

    make_tasks(4, k=3)
    (user,) = labelers(1)
    while (assignment := claim_next_ranking_task(project=project, labeler=user)) is not None:
        submit_ranking(task=assignment.task, labeler=user, ranking=assignment.task.completion_ids)
    version = create_dataset_version(project=project, kind="preference", test_fraction=0.0)
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    path, _ = materialize(version=version, shape="trl-preference", split="train", file_type="jsonl", compress=False)
    data = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(data) == 12 and set(data.column_names) == {"prompt", "chosen", "rejected", "margin"}
    tokenizer = tiny_tokenizer([r["prompt"] + r["chosen"] + r["rejected"] for r in data], tmp_path / "tok")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForSequenceClassification(config)
    args = RewardConfig(
        output_dir=str(tmp_path / "rm"),
        max_steps=3,
        per_device_train_batch_size=4,
        bf16=False,
        activation_checkpointing=False,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        max_length=256,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    result = trainer.train()
    assert result.global_step == 3
    assert torch.isfinite(torch.tensor(result.training_loss))
