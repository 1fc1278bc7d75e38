"""The typed job configs are the one source: the docs table, the model's kinds and methods, the console form's bounds
and the trainer's chat templates all agree with them."""

from pathlib import Path

from django.conf import settings

from training.models import JobKind, JobMethod
from training.trainer import configs, hyperparameters


def test_the_docs_table_is_the_one_the_configs_make():
    page = (Path(settings.BASE_DIR) / "docs" / "training.md").read_text()
    table = page.split("<!-- hyperparameters: generated -->\n")[1].split("<!-- /hyperparameters -->")[0]
    assert table == configs.docs_table(), "run `python -m training.trainer.configs` and paste the table"


def test_kinds_and_methods_are_the_configs():
    assert set(JobKind.values) == set(configs.CONFIGS)
    assert tuple(JobMethod.values) == configs.METHODS


def test_the_console_form_takes_its_bounds_and_choices_from_the_configs():
    from console.forms import NewJobForm

    fields = NewJobForm.base_fields
    assert (fields["epochs"].min_value, fields["epochs"].max_value) == configs.field_spec("epochs").metadata["bounds"]
    assert fields["batch_size"].max_value == configs.field_spec("batch_size").metadata["bounds"][1]
    offered = {value for value, _label in fields["chat_template"].choices}
    assert offered == set(configs.field_spec("chat_template").metadata["choices"])


def test_the_trainer_reads_a_stored_job_through_its_config():
    from training.trainer.runner_common import CHAT_TEMPLATE_FILES

    assert {"", "model", *CHAT_TEMPLATE_FILES} == set(configs.field_spec("chat_template").metadata["choices"])
    stored = hyperparameters.resolve("dpo", "lora", {"beta": 0.2})
    del stored["loss_type"]  # stored before the key existed
    config = configs.load("dpo", "lora", {**stored, "retired_key": 1})
    assert config.beta == 0.2 and config.loss_type == "sigmoid" and config.learning_rate == 5e-6
