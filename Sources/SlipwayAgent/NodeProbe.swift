import Foundation

#if canImport(Glibc)
    import Glibc
#endif
import SlipwayDomain

/// What this machine offers: CPU cores, memory, and the GPUs `nvidia-smi` lists (none where it is absent).
public enum NodeProbe {
    public static func capacity() -> (resources: ComputeResources, gpus: [GPUDevice]) {
        let gpus = nvidiaGPUs()
        return (
            ComputeResources(
                cpu: Double(ProcessInfo.processInfo.activeProcessorCount), memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory),
                gpu: gpus.count),
            gpus
        )
    }

    /// Where drivers put `nvidia-smi` when it is not on `PATH` (a service started with a short `PATH`).
    static let usualNvidiaSMIPaths = ["/usr/bin/nvidia-smi", "/usr/local/bin/nvidia-smi", "/usr/local/nvidia/bin/nvidia-smi", "/bin/nvidia-smi"]

    /// The `nvidia-smi` to run: the first on `PATH` (as a shell finds it), else one of the usual places; `nil` when none.
    static func nvidiaSMI(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let onPath = (environment["PATH"] ?? "").split(separator: ":").map { String($0) + "/nvidia-smi" }
        return (onPath + usualNvidiaSMIPaths).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The GPUs `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` lists; none when the
    /// tool is missing or fails (a machine without NVIDIA GPUs or driver).
    static func nvidiaGPUs(environment: [String: String] = ProcessInfo.processInfo.environment) -> [GPUDevice] {
        guard let tool = nvidiaSMI(environment: environment) else { return [] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return [] }
        return parseNvidiaSMI(String(decoding: data, as: UTF8.self))
    }

    /// This machine's address on the route toward `host` (the address another machine there would reach it at), found by
    /// connecting a UDP socket, which sends nothing. Nil when there is no route.
    public static func localAddress(toward host: String, port: Int) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else { return nil }
        defer { freeaddrinfo(found) }
        let descriptor = socket(info.pointee.ai_family, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let resolved = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard resolved == 0 else { return nil }
        let address = String(cString: text)
        return address.contains(":") ? "[\(address)]" : address
    }

    /// Lines of `index, name, memory` as `nvidia-smi`'s CSV query prints them: memory in MiB, with or without the
    /// ` MiB` unit; a header line, blank lines and lines that are not a GPU are skipped. A GPU whose memory the
    /// driver does not report (`[N/A]`) is kept with 0 bytes. Sorted by index.
    public static func parseNvidiaSMI(_ text: String) -> [GPUDevice] {
        text.split(whereSeparator: \.isNewline).compactMap { line -> GPUDevice? in
            let parts = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 3, let index = Int(parts[0]), index >= 0 else { return nil }
            let name = parts[1..<parts.count - 1].joined(separator: ",")
            var memory = parts[parts.count - 1]
            if memory.hasSuffix("MiB") { memory = String(memory.dropLast(3)).trimmingCharacters(in: .whitespaces) }
            let mebibytes = Double(memory).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } ?? 0
            return GPUDevice(index: index, model: name, memoryBytes: Int64(mebibytes) * 1_048_576)
        }.sorted { $0.index < $1.index }
    }
}
