//! Renderers of plans (human, markdown, JSON): they read a plan and never compute one.
