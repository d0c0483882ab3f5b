//! The only module that speaks HTTP to the platform.
