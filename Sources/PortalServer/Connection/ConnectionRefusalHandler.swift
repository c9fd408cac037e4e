import NIOCore
import PortalMessages
import PortalWire

/// Installed instead of a ``ConnectionHandler`` on a connection over the
/// connection cap: sends one frame (id 0, RESOURCE_EXHAUSTED,
/// TOO_MANY_CONNECTIONS) and closes.
package final class ConnectionRefusalHandler: ChannelInboundHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    private let maximum: Int
    private var refused = false

    package init(maximum: Int) {
        self.maximum = maximum
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the peer sent is not read.
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        var frame = context.channel.allocator.buffer(capacity: 128)
        frame.writeFrame(
            ResponseEnvelope(
                id: 0,
                error: RPCError(
                    code: .resourceExhausted, reason: .tooManyConnections,
                    message: "Server is at its connection limit (\(maximum)); retry later.")))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
