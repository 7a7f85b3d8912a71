//! One module per endpoint: extract, call the domain, render.

pub mod chat;
pub mod embeddings;
pub mod health;
pub mod models;
pub mod receipts;
