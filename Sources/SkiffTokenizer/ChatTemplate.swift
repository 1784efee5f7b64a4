/// A chat message.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat formats of the supported models, rendered in Swift.
///
/// Written out rather than interpreted from Jinja: no Swift Jinja package is
/// available here, and these templates are fixed strings around each message.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2/InternVL2); a system
    /// message is added when the conversation has none and the model has a default.
    case chatML(defaultSystem: String?)
    /// H2O-Danube: `<|prompt|>user</s><|answer|>assistant</s>`; a system message is prefixed to the first prompt.
    case danube

    /// Picks the template a model's Jinja source describes.
    public init(jinja source: String?) {
        guard let source else { self = .chatML(defaultSystem: nil); return }
        if source.contains("<|prompt|>") { self = .danube; return }
        let marker = "You are a helpful"
        if let start = source.range(of: marker) {
            // The default system prompt is the literal up to the closing quote.
            let rest = source[start.lowerBound...]
            let end = rest.firstIndex(where: { $0 == "'" || $0 == "\"" || $0 == "<" }) ?? rest.endIndex
            self = .chatML(defaultSystem: String(rest[..<end]))
        } else {
            self = .chatML(defaultSystem: nil)
        }
    }

    /// The prompt text for `messages`, ending with the assistant's turn opened.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch self {
        case let .chatML(defaultSystem):
            if messages.first?.role != .system, let defaultSystem {
                out += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .danube:
            var system = ""
            for m in messages {
                switch m.role {
                case .system: system = m.content
                case .user:
                    out += "<|prompt|>\(system.isEmpty ? "" : system + " ")\(m.content)</s>"
                    system = ""
                case .assistant: out += "<|answer|>\(m.content)</s>"
                }
            }
            if addGenerationPrompt { out += "<|answer|>" }
        }
        return out
    }
}
