import Foundation

/// The machines of a simulated cluster: groups of identical nodes.
public struct ClusterShape: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `count` identical nodes.
    public struct NodeGroup: Sendable, Hashable, Codable {
        public var count: Int
        public var capacity: Resources
        public var labels: [String: String]

        public init(count: Int, capacity: Resources, labels: [String: String] = [:]) {
            self.count = count
            self.capacity = capacity
            self.labels = labels
        }
    }

    public var groups: [NodeGroup]

    public init(groups: [NodeGroup]) {
        self.groups = groups
    }

    /// 32 GPU nodes (64 cores, 512 GiB, 8 GPUs) and 16 CPU nodes (64 cores, 256 GiB): 256 GPUs, 3,072
    /// cores, 20 TiB — a mid-sized training cluster of the kind the published GPU traces come from.
    public static let standard = ClusterShape(groups: [
        NodeGroup(count: 32, capacity: Resources(cpu: 64, memoryGiB: 512, gpu: 8)),
        NodeGroup(count: 16, capacity: Resources(cpu: 64, memoryGiB: 256, gpu: 0)),
    ])

    /// Reads `COUNTxCPU/MEMORY_GIB/GPU` groups separated by commas, such as `32x64/512/8,16x64/256/0`
    /// (32 nodes of 64 cores, 512 GiB and 8 GPUs, and 16 of 64 cores, 256 GiB and no GPU). `x` may be `*`.
    /// - Throws: ``SimulationError`` saying which group is wrong.
    public init(parsing spec: String) throws {
        var groups: [NodeGroup] = []
        for part in spec.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "*", with: "x")
            let halves = text.split(separator: "x", maxSplits: 1, omittingEmptySubsequences: false)
            let sizes = halves.count == 2 ? halves[1].split(separator: "/", omittingEmptySubsequences: false) : []
            guard halves.count == 2, let count = Int(halves[0]), count > 0, sizes.count == 3,
                let cpu = Double(sizes[0]), cpu >= 0, cpu.isFinite, let memory = Double(sizes[1]), memory >= 0, memory.isFinite,
                let gpu = Int(sizes[2]), gpu >= 0
            else {
                throw SimulationError.badClusterSpec(String(part))
            }
            groups.append(NodeGroup(count: count, capacity: Resources(cpu: cpu, memoryGiB: memory, gpu: gpu)))
        }
        guard !groups.isEmpty else { throw SimulationError.badClusterSpec(spec) }
        self.groups = groups
    }

    /// How many nodes.
    public var nodeCount: Int { groups.reduce(0) { $0 + $1.count } }

    /// What all nodes have together.
    public var capacity: Resources { groups.reduce(.zero) { $0 + $1.capacity * $1.count } }

    /// The empty nodes, named `node-1`, `node-2`, … in group order.
    public func nodes() -> [NodeSnapshot] {
        var nodes: [NodeSnapshot] = []
        nodes.reserveCapacity(nodeCount)
        for group in groups {
            for _ in 0..<group.count {
                nodes.append(NodeSnapshot(id: "node-\(nodes.count + 1)", capacity: group.capacity, labels: group.labels))
            }
        }
        return nodes
    }

    /// `32x64/512/8,16x64/256/0`: the form ``init(parsing:)`` reads.
    public var description: String {
        groups.map { "\($0.count)x\(Resources.number($0.capacity.cpu))/\(Resources.number($0.capacity.memoryGiB))/\($0.capacity.gpu)" }
            .joined(separator: ",")
    }

    /// How a trace job runs here: one task, or — when it needs more GPUs than the largest node has — a gang of
    /// the fewest equal tasks that each fit a node's GPU count, sharing its CPU and memory evenly.
    func tasks(for resources: Resources) -> (task: Resources, count: Int) {
        let largest = groups.map(\.capacity.gpu).max() ?? 0
        guard largest > 0, resources.gpu > largest else { return (resources, 1) }
        var count = (resources.gpu + largest - 1) / largest
        while resources.gpu % count != 0 { count += 1 }
        let task = Resources(
            cpuMillicores: (resources.cpuMillicores + Int64(count) - 1) / Int64(count),
            memoryBytes: (resources.memoryBytes + Int64(count) - 1) / Int64(count), gpu: resources.gpu / count)
        return (task, count)
    }
}
