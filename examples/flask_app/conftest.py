"""Make the example importable however pytest is started (repository root or here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
