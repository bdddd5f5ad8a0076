/// Serialises work on one digest inside this process: storing, deleting and collecting the same blob.
actor DigestLocks {
    private var held: Set<BlobDigest> = []
    private var waiters: [BlobDigest: [CheckedContinuation<Void, Never>]] = [:]

    /// Runs `body` while no other holder of this lock object works on `digest`.
    func withLock<T: Sendable>(_ digest: BlobDigest, _ body: @Sendable () async throws -> T) async throws -> T {
        while held.contains(digest) {
            await withCheckedContinuation { waiters[digest, default: []].append($0) }
        }
        held.insert(digest)
        defer {
            held.remove(digest)
            if var queue = waiters[digest], !queue.isEmpty {
                queue.removeFirst().resume()
                waiters[digest] = queue.isEmpty ? nil : queue
            }
        }
        return try await body()
    }
}
