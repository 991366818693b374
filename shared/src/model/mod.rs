//! The ground floor: what Burst's data is and the pure rules about it. Each file is a type and its
//! rules together — a drop and when it opens, a reservation and when it is overdue, how units are
//! allocated, how the queue is drawn, whom to admit and how long the wait is, what a token or a
//! proof of work must say. Nothing here reads or writes the table or talks to the network: this
//! module imports nothing of Burst's but `error`, and every other layer imports it.

pub mod admission;
pub mod connection;
pub mod currency;
pub mod draw;
pub mod drop;
pub mod ids;
pub mod order;
pub mod policy;
pub mod pow;
pub mod push;
pub mod queue;
pub mod requester;
pub mod reservation;
