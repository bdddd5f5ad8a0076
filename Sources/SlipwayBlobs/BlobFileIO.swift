import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The POSIX calls a ``FileBlobStore`` makes. Every one may block, so the store runs them on its thread pool.
enum BlobFileIO {
    /// What `stat` says of a file.
    struct Status {
        var size: Int64
        /// Seconds since 1970 of the last modification.
        var modified: Double
        var isRegularFile: Bool
    }

    /// Creates `path`, which must not exist yet, for writing.
    static func createExclusive(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BlobStoreError.io("cannot create \(path): \(errorText())") }
        return descriptor
    }

    /// Opens `path` for reading; `nil` when there is no such file.
    static func openForReading(_ path: String) throws -> Int32? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 { return descriptor }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw BlobStoreError.io("cannot open \(path): \(errorText())")
    }

    /// Writes all of `buffer`'s readable bytes.
    static func writeAll(_ descriptor: Int32, _ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BlobStoreError.io("write failed: \(errorText())")
                }
                offset += written
            }
        }
    }

    /// Reads up to `count` bytes, fewer only at the end of the file; an empty buffer at the end.
    static func read(_ descriptor: Int32, upTo count: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: count)
        while buffer.readableBytes < count {
            let wanted = count - buffer.readableBytes
            let received = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                while true {
                    let result = systemRead(descriptor, space.baseAddress!, wanted)
                    if result >= 0 { return result }
                    if errno != EINTR { throw BlobStoreError.io("read failed: \(errorText())") }
                }
            }
            if received == 0 { break }
        }
        return buffer
    }

    /// Flushes the file's bytes to the disk.
    static func flush(_ descriptor: Int32, path: String) throws {
        guard fsync(descriptor) == 0 else { throw BlobStoreError.io("cannot flush \(path): \(errorText())") }
    }

    /// Flushes a directory, so that a rename into it survives a crash. Best effort: not every filesystem allows it.
    static func flushDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// The file's size and modification time, or `nil` when it does not exist.
    static func status(_ path: String) -> Status? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        #if canImport(Darwin)
            let modified = status.st_mtimespec
        #else
            let modified = status.st_mtim
        #endif
        return Status(
            size: Int64(status.st_size),
            modified: Double(modified.tv_sec) + Double(modified.tv_nsec) / 1e9,
            isRegularFile: (status.st_mode & S_IFMT) == S_IFREG)
    }

    /// Sets the file's modification time to now. Returns whether the file exists.
    @discardableResult static func touch(_ path: String) -> Bool { utime(path, nil) == 0 }

    /// Removes a file. Returns whether it existed.
    @discardableResult static func remove(_ path: String) -> Bool { unlink(path) == 0 }

    /// Renames `source` to `destination`, replacing any file there.
    static func move(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else { throw BlobStoreError.io("cannot move \(source) to \(destination): \(errorText())") }
    }

    /// Closes a descriptor.
    static func close(_ descriptor: Int32) {
        systemClose(descriptor)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

// The system's `read` and `close`, under names the enum's own members do not shadow.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }
private func systemClose(_ descriptor: Int32) { _ = close(descriptor) }
