import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import SlipwayDomain
import Synchronization

/// What a model worker said about its model: the Open Inference Protocol's metadata.
public struct WorkerMetadata: Sendable, Hashable {
    /// One declared tensor; `-1` in a shape is any size.
    public struct TensorSpec: Sendable, Hashable {
        public var name: String
        public var datatype: String
        public var shape: [Int]
    }

    public var platform: String
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
}

/// A failed request to a worker: `status` 400 when the request was wrong (the answer for the client), 500 when
/// the model failed, 502 when the worker's answer could not be read.
public struct WorkerError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// False when the request never reached the worker (its connection was already closed): it may be sent elsewhere.
    public var delivered: Bool
    public init(status: Int, _ message: String, delivered: Bool = true) {
        self.status = status
        self.message = message
        self.delivered = delivered
    }
    public var description: String { message }
}

/// One connection to a model worker (`runtime/slipway_worker`) speaking its frame protocol: a `u32` header length,
/// a `u32` body length, a JSON header and the raw tensors. Requests may be sent concurrently; the worker answers
/// a connection's requests in order, and the answers are matched to them in that order.
public final class WorkerConnection: Sendable {
    let channel: any Channel
    private let nextID = Mutex(0)

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects to `unix:PATH` or `tcp:HOST:PORT`, the address the worker announced.
    public static func connect(
        to address: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws
        -> WorkerConnection
    {
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ResponseMatcher())
                }
            }
        let channel: any Channel
        if address.hasPrefix("unix:") {
            channel = try await bootstrap.connect(unixDomainSocketPath: String(address.dropFirst(5))).get()
        } else if address.hasPrefix("tcp:"), let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) {
            let host = String(address[address.index(address.startIndex, offsetBy: 4)..<colon])
            channel = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: host, port: port).get()
        } else {
            throw WorkerError(status: 500, "a worker's address is unix:PATH or tcp:HOST:PORT, not '\(address)'")
        }
        return WorkerConnection(channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }

    /// Runs the model on `inputs`; `outputs` names the outputs wanted (all when empty).
    /// - Throws: ``WorkerError`` (400 for the request's mistakes, with the worker's sentence).
    public func infer(_ inputs: [Tensor], outputs: [String] = []) async throws -> [Tensor] {
        let (answer, payload) = try await call(op: "infer", body: inputs.reduce(into: Data()) { $0.append($1.raw) }) { json in
            json.raw(#","inputs":["#)
            for (index, tensor) in inputs.enumerated() {
                if index > 0 { json.raw(",") }
                json.tensorHead(tensor)
                json.raw(#","size":"#)
                json.integer(tensor.raw.count)
                json.raw("}")
            }
            json.raw("]")
            if !outputs.isEmpty {
                json.raw(#","outputs":["#)
                for (index, name) in outputs.enumerated() {
                    if index > 0 { json.raw(",") }
                    json.string(name)
                }
                json.raw("]")
            }
        }
        guard let entries = answer["outputs"]?.array else { throw WorkerError(status: 502, "the worker's answer has no outputs") }
        var tensors: [Tensor] = []
        tensors.reserveCapacity(entries.count)
        var offset = payload.startIndex
        for entry in entries {
            guard let name = entry["name"]?.string, let type = entry["datatype"]?.string, let datatype = TensorDatatype(rawValue: type),
                let dimensions = entry["shape"]?.array, let size = entry["size"]?.integer, size >= 0, offset + size <= payload.endIndex
            else { throw WorkerError(status: 502, "the worker's answer describes an output it does not hold") }
            let shape = dimensions.compactMap(\.integer)
            guard shape.count == dimensions.count else { throw WorkerError(status: 502, "the worker's answer has a shape that is not a list of sizes") }
            tensors.append(Tensor(name: name, datatype: datatype, shape: shape, raw: payload[offset..<(offset + size)]))
            offset += size
        }
        return tensors
    }

    /// The model's declared inputs and outputs.
    public func metadata() async throws -> WorkerMetadata {
        let (answer, _) = try await call(op: "metadata", body: Data())
        func specs(_ key: String) -> [WorkerMetadata.TensorSpec] {
            (answer[key]?.array ?? []).compactMap { entry in
                guard let name = entry["name"]?.string, let datatype = entry["datatype"]?.string, let dimensions = entry["shape"]?.array
                else { return nil }
                return WorkerMetadata.TensorSpec(name: name, datatype: datatype, shape: dimensions.compactMap(\.integer))
            }
        }
        return WorkerMetadata(platform: answer["platform"]?.string ?? "unknown", inputs: specs("inputs"), outputs: specs("outputs"))
    }

    /// Whether the worker answers, and how many predictions it has made.
    public func health() async throws -> Int {
        let (answer, _) = try await call(op: "health", body: Data())
        return answer["served"]?.integer ?? 0
    }

    /// Sends one frame: a header `{"op": op, "id": N, …}` (`fields` writes what follows the id) and the body.
    private func call(op: StaticString, body: Data, fields: (inout JSONText) -> Void = { _ in }) async throws -> (JSONTree, Data) {
        let id = nextID.withLock { value -> Int in
            value += 1
            return value
        }
        var json = JSONText(capacity: 256)
        json.raw(#"{"op":""#)
        json.raw(op)
        json.raw(#"","id":"#)
        json.integer(id)
        fields(&json)
        json.raw("}")
        var frame = channel.allocator.buffer(capacity: 8 + json.bytes.count + body.count)
        frame.writeInteger(UInt32(json.bytes.count), endianness: .little)
        frame.writeInteger(UInt32(body.count), endianness: .little)
        frame.writeBytes(json.bytes)
        frame.writeBytes(body)
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        // A write that cannot go out (the connection is already closed) never reaches the matcher: fail it here. A
        // promise completes once, so a request the matcher also fails is failed only once.
        channel.writeAndFlush(OutboundRequest(frame: frame, promise: promise)).whenFailure { error in
            promise.fail(WorkerError(status: 502, "the connection to the worker is closed (\(error))", delivered: false))
        }
        var answer = try await promise.futureResult.get()
        guard let headerLength = answer.readInteger(endianness: .little, as: UInt32.self),
            let bodyLength = answer.readInteger(endianness: .little, as: UInt32.self),
            let headerBytes = answer.readSlice(length: Int(headerLength)),
            let object = try? JSONTree.parse(headerBytes.readableBytesView)
        else { throw WorkerError(status: 502, "the worker's answer cannot be read") }
        if let message = object["error"]?.string { throw WorkerError(status: object["status"]?.integer ?? 500, message) }
        guard object["id"]?.integer == id else { throw WorkerError(status: 502, "the worker answered another request") }
        return (object, answer.readData(length: Int(bodyLength)) ?? Data())
    }
}

/// A frame on its way to the worker, with the promise its answer completes.
struct OutboundRequest: Sendable {
    var frame: ByteBuffer
    var promise: EventLoopPromise<ByteBuffer>
}

/// Cuts the byte stream into whole frames (length prefix included).
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    /// A frame larger than this ends the connection: the worker is broken.
    static let maximumFrame = 2 << 30

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let headerLength = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
            let bodyLength = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: UInt32.self)
        else { return .needMoreData }
        let total = 8 + Int(headerLength) + Int(bodyLength)
        guard total <= Self.maximumFrame else { throw WorkerError(status: 502, "the worker sent a frame of \(total) bytes") }
        guard let frame = buffer.readSlice(length: total) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }
}

/// Matches answers to requests in order; fails the waiting requests when the connection ends.
final class ResponseMatcher: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<EventLoopPromise<ByteBuffer>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(request.promise)
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let promise = waiting.popFirst() else { return }
        promise.succeed(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let promise = waiting.popFirst() { promise.fail(WorkerError(status: 502, "the worker closed the connection")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = error as? WorkerError ?? WorkerError(status: 502, "the connection to the worker failed: \(error)")
        while let promise = waiting.popFirst() { promise.fail(failure) }
        context.close(promise: nil)
    }
}
