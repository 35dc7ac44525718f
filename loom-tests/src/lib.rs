//! Helpers shared by the loom test files (see tests/).
