#![allow(dead_code)]

pub mod server;
