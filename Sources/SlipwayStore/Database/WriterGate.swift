/// Lets one writer at a time into the SQLite database of this process.
///
/// SQLite allows a single writer; queueing writers here, instead of in SQLite's busy handler,
/// keeps the connection threads free for readers and makes writes fair (first come, first served).
actor WriterGate {
    private var isHeld = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !isHeld {
            isHeld = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            isHeld = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
