//! Schema and rule checks of the desired state → diagnostics placed at their YAML line. No I/O
//! beyond reading the files.
