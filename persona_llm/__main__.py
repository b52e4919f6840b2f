"""``python -m persona_llm``: the ``persona-llm`` command."""

from persona_llm.cli import main

raise SystemExit(main())
