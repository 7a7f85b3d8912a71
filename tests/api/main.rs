//! Black-box tests: a real gateway on a loopback port, real fake providers behind it, and
//! requests sent the way a client sends them.

mod chat;
mod embeddings;
mod errors;
mod helpers;
mod models;
mod streaming;
