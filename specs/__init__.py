"""The shipped specs of ICBC personal online banking (YAML data, loaded by authspec.model)."""
