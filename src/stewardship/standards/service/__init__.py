"""Use cases of the standards context: the library and the standard-setting process."""
