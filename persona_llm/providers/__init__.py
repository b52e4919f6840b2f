"""Provider adapters, one module per provider; each imports its SDK only when loaded."""
