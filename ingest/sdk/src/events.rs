//! The other kinds of events an [`Actor`] records: function calls, errors, custom events and
//! memory fences, each located at the caller's `file:line`.

use std::panic::Location;
use std::sync::atomic::Ordering;

use raceway_schemas::{Custom, ErrorEvent, EventKind, FunctionCall, MemoryFence, MemoryOrdering};
use serde::Serialize;
use uuid::Uuid;

use crate::actor::{caller_location, to_json, Actor};

impl Actor {
    /// Records a call of `function` with `args` (any serialisable value, recorded as JSON) at
    /// the caller's `file:line`. A path such as `"ledger::apply"` is split into module
    /// (`ledger`) and function name (`apply`).
    #[track_caller]
    pub fn call<A: Serialize + ?Sized>(&mut self, function: &str, args: &A) -> Option<Uuid> {
        if !self.is_recording() {
            return None;
        }
        let location = Location::caller();
        let (module, function_name) = match function.rsplit_once("::") {
            Some((module, name)) => (module.to_string(), name.to_string()),
            None => (String::new(), function.to_string()),
        };
        self.record(EventKind::FunctionCall(FunctionCall {
            function_name,
            module,
            args: to_json(args),
            file: location.file().to_string(),
            line: location.line(),
        }))
    }

    /// Records an error: its type name, its message, and the messages of its `source()` chain
    /// after the caller's `file:line` as the stack.
    #[track_caller]
    pub fn error<E: std::error::Error + ?Sized>(&mut self, error: &E) -> Option<Uuid> {
        if !self.is_recording() {
            return None;
        }
        let mut stack_trace = vec![caller_location()];
        let mut source = error.source();
        while let Some(cause) = source {
            stack_trace.push(cause.to_string());
            source = cause.source();
        }
        self.record(EventKind::Error(ErrorEvent {
            error_type: std::any::type_name::<E>().to_string(),
            message: error.to_string(),
            stack_trace,
        }))
    }

    /// Records an error given as a type name and a message (for errors that are not
    /// `std::error::Error` values).
    #[track_caller]
    pub fn error_message(&mut self, error_type: &str, message: &str) -> Option<Uuid> {
        if !self.is_recording() {
            return None;
        }
        let location = caller_location();
        self.record(EventKind::Error(ErrorEvent {
            error_type: error_type.to_string(),
            message: message.to_string(),
            stack_trace: vec![location],
        }))
    }

    /// Records a custom event `name` with `data` (recorded as JSON).
    pub fn custom<D: Serialize + ?Sized>(&mut self, name: &str, data: &D) -> Option<Uuid> {
        if !self.is_recording() {
            return None;
        }
        self.record(EventKind::Custom(Custom {
            name: name.to_string(),
            data: to_json(data),
        }))
    }

    /// Issues `std::sync::atomic::fence(ordering)` and records it as a `MemoryFence`.
    ///
    /// Like std, a `Relaxed` fence is refused (std panics on it); here it is only recorded as
    /// an error event, never issued.
    #[track_caller]
    pub fn fence(&mut self, ordering: Ordering) -> Option<Uuid> {
        let Some(recorded) = memory_ordering(ordering).filter(|o| *o != MemoryOrdering::Relaxed)
        else {
            return self.error_message("InvalidFence", "a fence cannot be Relaxed");
        };
        std::sync::atomic::fence(ordering);
        if !self.is_recording() {
            return None;
        }
        let location = caller_location();
        self.record(EventKind::MemoryFence(MemoryFence {
            ordering: recorded,
            location,
        }))
    }
}

/// The recorded form of a std ordering (`None` for orderings std may add later).
pub(crate) fn memory_ordering(ordering: Ordering) -> Option<MemoryOrdering> {
    match ordering {
        Ordering::Relaxed => Some(MemoryOrdering::Relaxed),
        Ordering::Acquire => Some(MemoryOrdering::Acquire),
        Ordering::Release => Some(MemoryOrdering::Release),
        Ordering::AcqRel => Some(MemoryOrdering::AcqRel),
        Ordering::SeqCst => Some(MemoryOrdering::SeqCst),
        _ => None,
    }
}
