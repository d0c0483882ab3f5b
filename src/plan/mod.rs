//! Pure diff: desired and live state in, a typed plan out. No I/O; knows nothing of HTTP or YAML.
