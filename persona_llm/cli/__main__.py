"""``python -m persona_llm.cli``: the same as the ``persona-llm`` command."""

import sys

from persona_llm.cli import main

sys.exit(main())
