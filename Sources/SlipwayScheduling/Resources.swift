import Foundation

/// An amount of compute: CPU in thousandths of a core, memory in bytes and whole GPUs.
///
/// CPU is counted in millicores so that sums and comparisons are exact (`Resources(cpu: 0.5)` is 500
/// millicores). Jobs request it per task, nodes have and free it, namespaces use it.
public struct Resources: Sendable, Hashable, Codable {
    /// CPU in thousandths of a core.
    public var cpuMillicores: Int64
    /// Memory in bytes.
    public var memoryBytes: Int64
    /// Whole GPUs.
    public var gpu: Int

    public init(cpuMillicores: Int64 = 0, memoryBytes: Int64 = 0, gpu: Int = 0) {
        self.cpuMillicores = cpuMillicores
        self.memoryBytes = memoryBytes
        self.gpu = gpu
    }

    /// - Parameters:
    ///   - cpu: cores; rounded to the nearest millicore.
    ///   - memoryBytes: bytes.
    ///   - gpu: whole GPUs.
    public init(cpu: Double, memoryBytes: Int64 = 0, gpu: Int = 0) {
        self.init(cpuMillicores: Int64((cpu * 1000).rounded()), memoryBytes: memoryBytes, gpu: gpu)
    }

    /// - Parameters:
    ///   - cpu: cores; rounded to the nearest millicore.
    ///   - memoryGiB: gibibytes (2^30 bytes); rounded to the nearest byte.
    ///   - gpu: whole GPUs.
    public init(cpu: Double, memoryGiB: Double, gpu: Int = 0) {
        self.init(cpu: cpu, memoryBytes: Int64((memoryGiB * Resources.bytesPerGiB).rounded()), gpu: gpu)
    }

    /// Nothing at all.
    public static let zero = Resources()

    /// Bytes in a gibibyte.
    public static let bytesPerGiB: Double = 1_073_741_824

    /// CPU in cores.
    public var cpu: Double { Double(cpuMillicores) / 1000 }
    /// Memory in gibibytes.
    public var memoryGiB: Double { Double(memoryBytes) / Resources.bytesPerGiB }

    /// Whether every component is zero.
    public var isZero: Bool { cpuMillicores == 0 && memoryBytes == 0 && gpu == 0 }

    /// Whether this amount fits in `available`: no component is larger.
    @inlinable
    public func fits(in available: Resources) -> Bool {
        cpuMillicores <= available.cpuMillicores && memoryBytes <= available.memoryBytes && gpu <= available.gpu
    }

    /// The largest fraction this amount takes of any resource of `total` (its dominant share). Resources
    /// `total` has none of are left out; 0 when `total` is empty.
    public func dominantShare(of total: Resources) -> Double {
        var share = 0.0
        if total.cpuMillicores > 0 { share = max(share, Double(cpuMillicores) / Double(total.cpuMillicores)) }
        if total.memoryBytes > 0 { share = max(share, Double(memoryBytes) / Double(total.memoryBytes)) }
        if total.gpu > 0 { share = max(share, Double(gpu) / Double(total.gpu)) }
        return share
    }

    /// How many copies of `task` fit in this amount (`Int.max` when `task` is zero).
    public func copies(of task: Resources) -> Int {
        var count = Int.max
        if task.cpuMillicores > 0 { count = min(count, Int(max(0, cpuMillicores) / task.cpuMillicores)) }
        if task.memoryBytes > 0 { count = min(count, Int(max(0, memoryBytes) / task.memoryBytes)) }
        if task.gpu > 0 { count = min(count, max(0, gpu) / task.gpu) }
        return count
    }

    /// The larger of each component.
    public func componentwiseMax(_ other: Resources) -> Resources {
        Resources(
            cpuMillicores: max(cpuMillicores, other.cpuMillicores), memoryBytes: max(memoryBytes, other.memoryBytes),
            gpu: max(gpu, other.gpu))
    }

    @inlinable
    public static func + (lhs: Resources, rhs: Resources) -> Resources {
        Resources(cpuMillicores: lhs.cpuMillicores + rhs.cpuMillicores, memoryBytes: lhs.memoryBytes + rhs.memoryBytes, gpu: lhs.gpu + rhs.gpu)
    }

    @inlinable
    public static func - (lhs: Resources, rhs: Resources) -> Resources {
        Resources(cpuMillicores: lhs.cpuMillicores - rhs.cpuMillicores, memoryBytes: lhs.memoryBytes - rhs.memoryBytes, gpu: lhs.gpu - rhs.gpu)
    }

    @inlinable
    public static func * (lhs: Resources, rhs: Int) -> Resources {
        Resources(cpuMillicores: lhs.cpuMillicores * Int64(rhs), memoryBytes: lhs.memoryBytes * Int64(rhs), gpu: lhs.gpu * rhs)
    }

    @inlinable
    public static func += (lhs: inout Resources, rhs: Resources) { lhs = lhs + rhs }

    @inlinable
    public static func -= (lhs: inout Resources, rhs: Resources) { lhs = lhs - rhs }
}

extension Resources: CustomStringConvertible {
    /// `cpu 4, memory 16 GiB, gpu 1`: the components that are not zero (`nothing` when all are).
    public var description: String {
        var parts: [String] = []
        if gpu != 0 { parts.append("gpu \(gpu)") }
        if cpuMillicores != 0 { parts.append("cpu \(Self.number(cpu))") }
        if memoryBytes != 0 { parts.append("memory \(Self.number(memoryGiB)) GiB") }
        return parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
    }

    /// A number with at most two decimals and no trailing zeros.
    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// An upper bound on what a namespace may hold at once; a component left `nil` is not limited.
public struct ResourceLimit: Sendable, Hashable, Codable {
    public var cpuMillicores: Int64?
    public var memoryBytes: Int64?
    public var gpu: Int?

    public init(cpuMillicores: Int64? = nil, memoryBytes: Int64? = nil, gpu: Int? = nil) {
        self.cpuMillicores = cpuMillicores
        self.memoryBytes = memoryBytes
        self.gpu = gpu
    }

    /// - Parameters:
    ///   - cpu: cores, or `nil` for no CPU limit.
    ///   - memoryBytes: bytes, or `nil` for no memory limit.
    ///   - gpu: GPUs, or `nil` for no GPU limit.
    public init(cpu: Double?, memoryBytes: Int64? = nil, gpu: Int? = nil) {
        self.init(cpuMillicores: cpu.map { Int64(($0 * 1000).rounded()) }, memoryBytes: memoryBytes, gpu: gpu)
    }

    /// No limit on anything.
    public static let unlimited = ResourceLimit()

    /// Whether `amount` stays within every limited component.
    public func admits(_ amount: Resources) -> Bool {
        excess(using: amount, alreadyUsed: .zero) == nil
    }

    /// Why taking `amount` on top of `alreadyUsed` would break the limit, or `nil` when it would not:
    /// `gpu 4 > 2 left` for the first component that overflows (GPU, then CPU, then memory).
    public func excess(using amount: Resources, alreadyUsed: Resources) -> String? {
        if let gpu, alreadyUsed.gpu + amount.gpu > gpu {
            return "gpu \(amount.gpu) > \(max(0, gpu - alreadyUsed.gpu)) left"
        }
        if let cpuMillicores, alreadyUsed.cpuMillicores + amount.cpuMillicores > cpuMillicores {
            let left = Double(max(0, cpuMillicores - alreadyUsed.cpuMillicores)) / 1000
            return "cpu \(Resources.number(amount.cpu)) > \(Resources.number(left)) left"
        }
        if let memoryBytes, alreadyUsed.memoryBytes + amount.memoryBytes > memoryBytes {
            let left = Double(max(0, memoryBytes - alreadyUsed.memoryBytes)) / Resources.bytesPerGiB
            return "memory \(Resources.number(amount.memoryGiB)) GiB > \(Resources.number(left)) GiB left"
        }
        return nil
    }
}
