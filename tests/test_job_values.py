"""Every value of a job file (and of a run config) checked against the type
of its option, as one line naming the file, the key and the type expected;
name templates limited to {stem} and {style}."""

from __future__ import annotations

import dataclasses

import pytest

from helpers import one_line_error
from vidstyle.apps.batch.job import load_job
from vidstyle.apps.run_options import RunOptions
from vidstyle.errors import OptionError


def write_job(folder, text: str):
    job = folder / "jobs.toml"
    job.write_text(text)
    return job


ITEM = '[[items]]\ninput = "a.mp4"\n'


@pytest.mark.parametrize(
    "text,expected",
    [
        (ITEM + 'crf = "high"\n', 'jobs.toml item 1: crf must be an integer, got "high"'),
        (ITEM + "batch_size = 2.5\n", "jobs.toml item 1: batch_size must be an integer, got 2.5"),
        (ITEM + 'audio = "no"\n', 'jobs.toml item 1: audio must be true or false, got "no"'),
        (ITEM + "strength = true\n", "jobs.toml item 1: strength must be a number, got true"),
        (ITEM + "frame_rate = [24]\n", "jobs.toml item 1: frame_rate must be a number or a string, got [24]"),
        (ITEM + "styles = 5\n", "jobs.toml item 1: styles must be a string or a list of strings, got 5"),
        (ITEM + "styles = [5]\n", "jobs.toml item 1: styles must be a string or a list of strings, got [5]"),
        (ITEM + "name = 5\n", "jobs.toml item 1: name must be a string, got 5"),
        (ITEM + ITEM + "style = 1.5\n", "jobs.toml item 2: style must be a string, got 1.5"),
        ('[[items]]\ninput = 7\n', "jobs.toml item 1: input must be a string, got 7"),
        ("[defaults]\ncrf = 20.5\n" + ITEM, "jobs.toml [defaults]: crf must be an integer, got 20.5"),
        ("retries = 1.5\n" + ITEM, "jobs.toml: retries must be an integer, got 1.5"),
        ("output_dir = 5\n" + ITEM, "jobs.toml: output_dir must be a string, got 5"),
        ('items = "a.mp4"\n', 'jobs.toml: items must be a list of tables, got "a.mp4"'),
        ("defaults = 3\n" + ITEM, "jobs.toml: [defaults] must be a table of run options"),
        (ITEM + "overwrite = true\n", "jobs.toml item 1: overwrite is not a job option"),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line(cli, tmp_path, text, expected):
    error = one_line_error(cli("batch", write_job(tmp_path, text)))
    assert error.startswith(f"vidstyle: error: {expected}"), error


def test_every_run_option_is_checked_from_its_annotation(tmp_path):
    """No table of types to keep in step: a field added to RunOptions is
    checked the moment it exists (no option is a table)."""
    for field in dataclasses.fields(RunOptions):
        if field.name == "overwrite":
            continue  # the batch decides that itself
        job = write_job(tmp_path, ITEM + f"{field.name} = {{ a = 1 }}\n")
        with pytest.raises(OptionError, match=rf"^jobs.toml item 1: {field.name} must be .*, got {{\"a\": 1}}$"):
            load_job(job)


def test_values_of_the_right_type_pass(tmp_path):
    job = load_job(write_job(tmp_path, (
        "retries = 0\n[defaults]\ncrf = 20\nstrength = 1\nframe_rate = \"24000/1001\"\naudio = false\n"
        + ITEM + 'styles = "mosaic"\nbatch_size = 2\nframe_rate = 23.976\n'
    )))
    options = job.tasks[0].options
    assert (options.crf, options.strength, options.audio, options.batch_size, options.frame_rate) == (20, 1, False, 2, 23.976)
    assert job.retries == 0 and job.tasks[0].style == "mosaic"


@pytest.mark.parametrize(
    "template,shown",
    [
        ("{stem.__class__}.mp4", "{stem.__class__}"),
        ("{stem[0]}.mp4", "{stem[0]}"),
        ("{stem!r}.mp4", "{stem!r}"),
        ("{style:>40}.mp4", "{style:>40}"),
        ("{name}.mp4", "{name}"),
        ("{}.mp4", "{}"),
    ],
)
def test_a_name_template_uses_only_stem_and_style(cli, tmp_path, template, shown):
    for job in (f'name = "{template}"\n' + ITEM, ITEM + f'name = "{template}"\n'):
        error = one_line_error(cli("batch", write_job(tmp_path, job)))
        assert f"uses {shown}: only {{stem}}, {{style}} are allowed" in error, error


@pytest.mark.parametrize("template", ["{stem_{style}.mp4", "{stem}}.mp4", "out{.mp4"])
def test_a_malformed_name_template_is_one_line(cli, tmp_path, template):
    error = one_line_error(cli("batch", write_job(tmp_path, f'name = "{template}"\n' + ITEM)))
    assert error.startswith("vidstyle: error: jobs.toml: malformed name template") and "fields: {stem}, {style}" in error


def test_a_good_name_template_names_the_outputs(tmp_path):
    job = load_job(write_job(tmp_path, 'name = "{style}/{stem}_{{v1}}.mov"\n' + ITEM + 'styles = ["mosaic"]\n'))
    assert [task.key for task in job.tasks] == ["mosaic/a_{v1}.mov"]


def test_a_run_config_is_checked_the_same_way(cli, make_clip, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[run]\ncrf = "high"\n')
    error = one_line_error(cli("run", make_clip(), "--config", config))
    assert error == f'vidstyle: error: {config}: crf must be an integer, got "high"'
