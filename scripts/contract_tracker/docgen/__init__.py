"""Contracts and letters generated from Word templates (docxtpl), safely and fast.

* :mod:`.capitals`: amounts in Chinese capitals (``rmb_capitals``) and words, dates, rates.
* :mod:`.filenames`: safe file names inside the output folder.
* :mod:`.context`: a workbook's contract (or dunning letter) as the template's data.
* :mod:`.render`: the sandboxed renderer, compiled templates and ``check_template``.
* :mod:`.generate`: ``generate_contracts``, the ``generate`` command's engine, with PDFs.
* :mod:`.templates_build`: the templates in ``templates/``, generated from code.
"""

from __future__ import annotations

from .capitals import cn_date, en_date, rmb_capitals, rmb_words_en
from .context import (
    ContractContext,
    DunningContext,
    DunningLine,
    build_contract_context,
    build_dunning_context,
)
from .generate import GeneratedDoc, generate_contracts
from .render import CompiledTemplate, TemplateError, Unknown, check_template, format_check

__all__ = [
    "CompiledTemplate",
    "ContractContext",
    "DunningContext",
    "DunningLine",
    "GeneratedDoc",
    "TemplateError",
    "Unknown",
    "build_contract_context",
    "build_dunning_context",
    "check_template",
    "cn_date",
    "en_date",
    "format_check",
    "generate_contracts",
    "rmb_capitals",
    "rmb_words_en",
]
