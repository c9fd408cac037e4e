#!/usr/bin/env python3
"""Generates the Swift message bridges of module PortalMessages from proto/.

Usage: gen_swift_messages.py --proto-root DIR --out DIR FILE.proto...

Parses the proto3 subset the Portal contract uses and writes one Swift file per
.proto file (`envelope.proto` -> `Envelope.pb.swift`). Each message becomes a
public struct conforming to `ProtoMessage`, bridged to the protobuf-c code that
scripts/gen-proto-c.sh generates into Sources/PortalProtoC.

The subset: `syntax = "proto3"`, one `package` shared by every file, plain
`import`, top-level messages and enums, enums nested in messages, `reserved`,
scalar fields int32/int64/uint32/uint64/bool/string/bytes, message- and
enum-typed fields, `repeated` scalars/enums/messages, `map<string, string>`, a
`oneof` holding exactly one field (used for presence), and `service` with
unary `rpc`s. `//` comments directly above an element become its `///` doc.
Anything else (options, proto2, nested messages, other map or scalar types,
multi-field oneofs, streaming, block comments, ...) is an error: the script
exits non-zero without writing anything.

Output depends only on the input files, so scripts/check-proto-sync.sh can diff
it against the committed files.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field as dc_field
from typing import Dict, List, Optional, Tuple

GENERATOR = "scripts/gen_swift_messages.py"


class ProtoError(Exception):
    """An input outside the supported subset, or an invalid one."""


# --------------------------------------------------------------------------
# Lexing
# --------------------------------------------------------------------------

@dataclass
class Token:
    kind: str  # "ident", "int", "string", "sym"
    text: str
    line: int


@dataclass
class Source:
    path: str
    tokens: List[Token]
    # line -> text of a comment that is alone on its line
    line_comments: Dict[int, str]
    # line -> text of a comment that follows code on its line
    trailing_comments: Dict[int, str]
    blank_lines: set


_SYMBOLS = set("{}()[];=<>,")


def lex(path: str, text: str) -> Source:
    tokens: List[Token] = []
    line_comments: Dict[int, str] = {}
    trailing: Dict[int, str] = {}
    blank = set()
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if raw.strip() == "":
            blank.add(lineno)
            continue
        i = 0
        n = len(raw)
        had_code = False
        while i < n:
            c = raw[i]
            if c in " \t\r\f\v":
                i += 1
            elif raw.startswith("//", i):
                body = raw[i + 2:]
                if body.startswith(" "):
                    body = body[1:]
                body = body.rstrip()
                if had_code:
                    trailing[lineno] = body
                else:
                    line_comments[lineno] = body
                break
            elif raw.startswith("/*", i):
                raise ProtoError(f"{path}:{lineno}: block comments (/* */) are not supported; use //")
            elif c in _SYMBOLS:
                tokens.append(Token("sym", c, lineno))
                had_code = True
                i += 1
            elif c == '"' or c == "'":
                j = i + 1
                while j < n and raw[j] != c:
                    if raw[j] == "\\":
                        raise ProtoError(f"{path}:{lineno}: escapes in string literals are not supported")
                    j += 1
                if j >= n:
                    raise ProtoError(f"{path}:{lineno}: unterminated string literal")
                tokens.append(Token("string", raw[i + 1:j], lineno))
                had_code = True
                i = j + 1
            elif c == "-" or c.isdigit():
                m = re.compile(r"-?(0|[1-9][0-9]*)(?![0-9A-Za-z_.])").match(raw, i)
                if not m:
                    raise ProtoError(f"{path}:{lineno}: unsupported number literal near {raw[i:i + 12]!r}")
                tokens.append(Token("int", m.group(0), lineno))
                had_code = True
                i = m.end()
            elif c.isalpha() or c == "_" or c == ".":
                m = re.compile(r"\.?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*").match(raw, i)
                if not m:
                    raise ProtoError(f"{path}:{lineno}: unexpected character {c!r}")
                tokens.append(Token("ident", m.group(0), lineno))
                had_code = True
                i = m.end()
            else:
                raise ProtoError(f"{path}:{lineno}: unexpected character {c!r}")
    return Source(path, tokens, line_comments, trailing, blank)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

SCALARS = ("int32", "int64", "uint32", "uint64", "bool", "string", "bytes")
UNSUPPORTED_SCALARS = ("double", "float", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64")


@dataclass
class EnumValue:
    name: str
    number: int
    doc: List[str]
    line: int


@dataclass
class Enum:
    name: str
    full_name: str  # portal.v1.HealthCheckResponse.ServingStatus
    path: List[str]  # ["HealthCheckResponse", "ServingStatus"]
    values: List[EnumValue]
    doc: List[str]
    line: int


@dataclass
class Field:
    name: str
    number: int
    repeated: bool
    type_name: str  # scalar name, "map", or a type reference as written
    doc: List[str]
    line: int
    oneof: Optional[str] = None
    oneof_doc: List[str] = dc_field(default_factory=list)
    # filled by resolution: "scalar", "enum", "message", "map"
    kind: str = ""
    resolved: Optional[object] = None


@dataclass
class Message:
    name: str
    full_name: str
    path: List[str]
    fields: List[Field]
    enums: List[Enum]
    doc: List[str]
    line: int


@dataclass
class Rpc:
    name: str
    request: str
    response: str
    doc: List[str]
    line: int
    request_msg: Optional[Message] = None
    response_msg: Optional[Message] = None


@dataclass
class Service:
    name: str
    rpcs: List[Rpc]
    doc: List[str]
    line: int


@dataclass
class ProtoFile:
    rel_path: str  # portal/v1/envelope.proto
    package: str
    imports: List[str]
    messages: List[Message]
    enums: List[Enum]
    services: List[Service]
    header_doc: List[str]


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Parser:
    def __init__(self, src: Source, rel_path: str):
        self.src = src
        self.toks = src.tokens
        self.pos = 0
        self.rel_path = rel_path

    # -- helpers --
    def err(self, msg: str, tok: Optional[Token] = None) -> ProtoError:
        tok = tok or (self.toks[self.pos] if self.pos < len(self.toks) else None)
        line = tok.line if tok else "EOF"
        return ProtoError(f"{self.src.path}:{line}: {msg}")

    def peek(self, offset: int = 0) -> Optional[Token]:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.err("unexpected end of file")
        self.pos += 1
        return tok

    def expect_sym(self, s: str) -> Token:
        tok = self.next()
        if tok.kind != "sym" or tok.text != s:
            raise self.err(f"expected {s!r}, found {tok.text!r}", tok)
        return tok

    def expect_ident(self, what: str) -> Token:
        tok = self.next()
        if tok.kind != "ident":
            raise self.err(f"expected {what}, found {tok.text!r}", tok)
        return tok

    def expect_simple_ident(self, what: str) -> Token:
        tok = self.expect_ident(what)
        if not IDENT_RE.match(tok.text):
            raise self.err(f"expected {what}, found {tok.text!r}", tok)
        return tok

    def expect_int(self) -> int:
        tok = self.next()
        if tok.kind != "int":
            raise self.err(f"expected a number, found {tok.text!r}", tok)
        return int(tok.text)

    def is_sym(self, s: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "sym" and tok.text == s

    def doc_for(self, line: int) -> List[str]:
        """The `//` comment lines directly above `line` (no blank line between),
        then a trailing comment on the line itself."""
        lines: List[str] = []
        l = line - 1
        while l in self.src.line_comments:
            lines.insert(0, self.src.line_comments[l])
            l -= 1
        if line in self.src.trailing_comments:
            lines.append(self.src.trailing_comments[line])
        return lines

    # -- grammar --
    def parse_file(self) -> ProtoFile:
        package = None
        imports: List[str] = []
        messages: List[Message] = []
        enums: List[Enum] = []
        services: List[Service] = []
        header_doc: List[str] = []

        first = self.peek()
        if first is None or first.text != "syntax":
            raise self.err('the file must start with syntax = "proto3";', first)
        header_doc = self.doc_for(first.line)
        self.next()
        self.expect_sym("=")
        syn = self.next()
        if syn.kind != "string" or syn.text != "proto3":
            raise self.err(f'only syntax = "proto3" is supported, found {syn.text!r}', syn)
        self.expect_sym(";")

        while self.peek() is not None:
            tok = self.next()
            if tok.kind != "ident":
                raise self.err(f"unexpected {tok.text!r}", tok)
            if tok.text == "package":
                if package is not None:
                    raise self.err("a second package statement", tok)
                package = self.expect_ident("a package name").text
                if package.startswith("."):
                    raise self.err("invalid package name", tok)
                self.expect_sym(";")
            elif tok.text == "import":
                t = self.next()
                if t.kind != "string":
                    raise self.err(f"only plain `import \"file.proto\";` is supported, found {t.text!r}", t)
                imports.append(t.text)
                self.expect_sym(";")
            elif tok.text == "message":
                if package is None:
                    raise self.err("message before the package statement", tok)
                messages.append(self.parse_message(tok, package))
            elif tok.text == "enum":
                if package is None:
                    raise self.err("enum before the package statement", tok)
                enums.append(self.parse_enum(tok, package, []))
            elif tok.text == "service":
                services.append(self.parse_service(tok))
            else:
                raise self.err(f"unsupported top-level statement {tok.text!r} (outside the supported proto3 subset)", tok)
        if package is None:
            raise ProtoError(f"{self.src.path}: no package statement")
        return ProtoFile(self.rel_path, package, imports, messages, enums, services, header_doc)

    def parse_enum(self, start: Token, package: str, parent_path: List[str]) -> Enum:
        name = self.expect_simple_ident("an enum name").text
        path = parent_path + [name]
        self.expect_sym("{")
        values: List[EnumValue] = []
        while not self.is_sym("}"):
            tok = self.next()
            if tok.kind == "sym" and tok.text == ";":
                continue
            if tok.kind != "ident" or not IDENT_RE.match(tok.text):
                raise self.err(f"unexpected {tok.text!r} in enum {name}", tok)
            if tok.text == "option":
                raise self.err("enum options (e.g. allow_alias) are not supported", tok)
            if tok.text == "reserved":
                self.skip_reserved()
                continue
            self.expect_sym("=")
            number = self.expect_int()
            if self.is_sym("["):
                raise self.err("enum value options are not supported")
            self.expect_sym(";")
            values.append(EnumValue(tok.text, number, self.doc_for(tok.line), tok.line))
        self.expect_sym("}")
        if not values:
            raise self.err(f"enum {name} has no values", start)
        if values[0].number != 0:
            raise self.err(f"the first value of proto3 enum {name} must be 0", start)
        if len({v.number for v in values}) != len(values):
            raise self.err(f"enum {name} has aliased numbers (not supported)", start)
        if not (-2**31 <= min(v.number for v in values) and max(v.number for v in values) < 2**31):
            raise self.err(f"enum {name} has a value outside int32", start)
        return Enum(name, ".".join([package] + path), path, values, self.doc_for(start.line), start.line)

    def skip_reserved(self) -> None:
        # reserved 2, 15, 9 to 11;  or  reserved "foo", "bar";
        while True:
            tok = self.next()
            if tok.kind == "sym" and tok.text == ";":
                return
            if tok.kind in ("int", "string") or (tok.kind == "sym" and tok.text == ",") \
                    or (tok.kind == "ident" and tok.text in ("to", "max")):
                continue
            raise self.err(f"unexpected {tok.text!r} in reserved", tok)

    def parse_message(self, start: Token, package: str) -> Message:
        name = self.expect_simple_ident("a message name").text
        path = [name]
        self.expect_sym("{")
        fields: List[Field] = []
        enums: List[Enum] = []
        while not self.is_sym("}"):
            tok = self.next()
            if tok.kind == "sym" and tok.text == ";":
                continue
            if tok.kind != "ident":
                raise self.err(f"unexpected {tok.text!r} in message {name}", tok)
            word = tok.text
            if word == "enum":
                enums.append(self.parse_enum(tok, package, path))
            elif word == "message":
                raise self.err(f"nested messages are not supported (in {name}); declare it at top level", tok)
            elif word == "oneof":
                fields.append(self.parse_oneof(tok, name))
            elif word == "reserved":
                self.skip_reserved()
            elif word in ("option", "extensions", "extend", "group", "optional", "required"):
                raise self.err(f"`{word}` is outside the supported proto3 subset (in message {name})", tok)
            elif word == "repeated":
                type_tok = self.expect_ident("a field type")
                if type_tok.text == "map":
                    raise self.err("repeated map fields are not valid", type_tok)
                fields.append(self.parse_field_rest(type_tok, repeated=True, line_tok=tok))
            elif word == "map":
                fields.append(self.parse_map(tok))
            else:
                fields.append(self.parse_field_rest(tok, repeated=False, line_tok=tok))
        self.expect_sym("}")
        return Message(name, f"{package}.{name}", path, fields, enums, self.doc_for(start.line), start.line)

    def parse_field_rest(self, type_tok: Token, repeated: bool, line_tok: Token) -> Field:
        type_name = type_tok.text
        if type_name in UNSUPPORTED_SCALARS:
            raise self.err(f"scalar type {type_name} is not supported", type_tok)
        if type_name in ("group", "map", "oneof"):
            raise self.err(f"unexpected {type_name}", type_tok)
        fname = self.expect_simple_ident("a field name").text
        self.expect_sym("=")
        number = self.expect_int()
        if self.is_sym("["):
            raise self.err(f"field options are not supported (field {fname})")
        self.expect_sym(";")
        return Field(fname, number, repeated, type_name, self.doc_for(line_tok.line), line_tok.line)

    def parse_map(self, tok: Token) -> Field:
        self.expect_sym("<")
        k = self.expect_ident("a map key type")
        self.expect_sym(",")
        v = self.expect_ident("a map value type")
        self.expect_sym(">")
        if k.text != "string" or v.text != "string":
            raise self.err(f"only map<string, string> is supported, found map<{k.text}, {v.text}>", k)
        fname = self.expect_simple_ident("a field name").text
        self.expect_sym("=")
        number = self.expect_int()
        if self.is_sym("["):
            raise self.err(f"field options are not supported (field {fname})")
        self.expect_sym(";")
        return Field(fname, number, False, "map", self.doc_for(tok.line), tok.line)

    def parse_oneof(self, tok: Token, msg_name: str) -> Field:
        oname = self.expect_simple_ident("a oneof name").text
        self.expect_sym("{")
        members: List[Field] = []
        while not self.is_sym("}"):
            t = self.next()
            if t.kind == "sym" and t.text == ";":
                continue
            if t.kind != "ident":
                raise self.err(f"unexpected {t.text!r} in oneof {oname}", t)
            if t.text in ("repeated", "map", "optional", "required", "option", "group", "oneof"):
                raise self.err(f"`{t.text}` is not supported inside oneof {oname}", t)
            members.append(self.parse_field_rest(t, repeated=False, line_tok=t))
        self.expect_sym("}")
        if len(members) != 1:
            raise self.err(
                f"oneof {msg_name}.{oname} has {len(members)} fields; only one-field oneofs "
                f"(used for presence) are supported", tok)
        f = members[0]
        f.oneof = oname
        f.oneof_doc = self.doc_for(tok.line)
        return f

    def parse_service(self, start: Token) -> Service:
        name = self.expect_simple_ident("a service name").text
        self.expect_sym("{")
        rpcs: List[Rpc] = []
        while not self.is_sym("}"):
            tok = self.next()
            if tok.kind == "sym" and tok.text == ";":
                continue
            if tok.kind != "ident" or tok.text != "rpc":
                raise self.err(f"only `rpc` is supported in service {name}, found {tok.text!r}", tok)
            rname = self.expect_simple_ident("an rpc name").text
            self.expect_sym("(")
            req = self.expect_ident("a request type")
            if req.text == "stream":
                raise self.err("streaming rpcs are not supported", req)
            self.expect_sym(")")
            ret = self.expect_ident("returns")
            if ret.text != "returns":
                raise self.err(f"expected returns, found {ret.text!r}", ret)
            self.expect_sym("(")
            resp = self.expect_ident("a response type")
            if resp.text == "stream":
                raise self.err("streaming rpcs are not supported", resp)
            self.expect_sym(")")
            if self.is_sym("{"):
                self.next()
                if not self.is_sym("}"):
                    raise self.err(f"rpc options are not supported (rpc {rname})")
                self.next()
            else:
                self.expect_sym(";")
            rpcs.append(Rpc(rname, req.text, resp.text, self.doc_for(tok.line), tok.line))
        self.expect_sym("}")
        return Service(name, rpcs, self.doc_for(start.line), start.line)


# --------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
    "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
    "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch",
    "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
    "return", "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil",
    "super", "throws", "true", "try", "package", "consume", "borrowing", "consuming", "copy", "discard",
    "each", "some", "any", "async", "actor", "macro",
}
# Member names that would clash with generated or protocol members.
RESERVED_MEMBER_NAMES = {
    "self", "Self", "Type", "Protocol", "protoMessageName", "serializedBytes", "init", "copy",
}
RESERVED_CASE_NAMES = {"unrecognized", "rawValue", "knownCases", "init", "self", "Type", "hashValue", "allCases"}
# Top-level Swift names the generated types must not shadow.
RESERVED_TYPE_NAMES = {
    "ProtoMessage", "ProtoDecodingError", "MethodDescriptor", "CArena", "CBridgedMessage",
    "String", "Int", "Int32", "Int64", "UInt32", "UInt64", "UInt8", "Bool", "Array", "Dictionary",
    "Optional", "Error", "Result", "Never", "Sendable", "Equatable", "Hashable", "Set", "Character",
    "Void", "Any", "Type", "Protocol", "Self",
}
C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "bool", "true", "false", "base",
}


def swift_ident(name: str) -> str:
    return f"`{name}`" if name in SWIFT_KEYWORDS else name


def lower_camel(snake: str) -> str:
    parts = [p for p in snake.split("_") if p != ""]
    if not parts:
        raise ProtoError(f"cannot derive a Swift name from {snake!r}")
    out = parts[0][0].lower() + parts[0][1:]
    for p in parts[1:]:
        out += p[0].upper() + p[1:]
    return out


def upper_camel(snake: str) -> str:
    parts = [p for p in snake.split("_") if p != ""]
    return "".join(p[0].upper() + p[1:] for p in parts)


def camel_to_upper_snake(name: str) -> str:
    out = ""
    for i, c in enumerate(name):
        if c.isupper() and i > 0 and (name[i - 1].islower() or name[i - 1].isdigit()):
            out += "_"
        out += c.upper()
    return out


def c_camel_to_lower(name: str) -> str:
    """protoc-c's CamelToLower: an underscore before each upper-case letter that
    follows a non-upper-case one, everything lower-cased."""
    out = ""
    was_upper = True
    for c in name:
        is_upper = c.isupper()
        if is_upper and not was_upper:
            out += "_"
        out += c.lower()
        was_upper = is_upper
    return out


def c_type_name(package: str, path: List[str]) -> str:
    parts = [p[0].upper() + p[1:] for p in package.split(".")] + path
    return "__".join(parts)


def c_func_prefix(package: str, path: List[str]) -> str:
    parts = [p.lower() for p in package.split(".")] + [c_camel_to_lower(p) for p in path]
    return "__".join(parts)


def enum_case_name(enum: Enum, value: EnumValue) -> str:
    prefix = camel_to_upper_snake(enum.name) + "_"
    raw = value.name
    if raw.startswith(prefix) and len(raw) > len(prefix) and not raw[len(prefix)].isdigit():
        raw = raw[len(prefix):]
    return lower_camel(raw.lower())


def swift_file_name(rel_path: str) -> str:
    base = os.path.basename(rel_path)
    if not base.endswith(".proto"):
        raise ProtoError(f"{rel_path}: not a .proto file")
    return upper_camel(base[:-len(".proto")]) + ".pb.swift"


# --------------------------------------------------------------------------
# Resolution and checks
# --------------------------------------------------------------------------

class Schema:
    def __init__(self, files: List[ProtoFile]):
        self.files = files
        packages = {f.package for f in files}
        if len(packages) != 1:
            raise ProtoError(f"all files must share one package (Swift has no namespaces for them): {sorted(packages)}")
        self.package = packages.pop()
        self._all_full_names: Dict[str, object] = {}
        self.messages: Dict[str, Message] = {}
        self.enums: Dict[str, Enum] = {}
        swift_names: Dict[str, str] = {}
        by_rel = {f.rel_path: f for f in files}
        for f in files:
            for imp in f.imports:
                if imp not in by_rel:
                    raise ProtoError(f"{f.rel_path}: import {imp!r} is not among the input files")
            for m in f.messages:
                self._add_type(m.full_name, m, swift_names, f.rel_path)
                self.messages[m.full_name] = m
                for e in m.enums:
                    self._add_type(e.full_name, e, {}, f.rel_path)
                    self.enums[e.full_name] = e
            for e in f.enums:
                self._add_type(e.full_name, e, swift_names, f.rel_path)
                self.enums[e.full_name] = e
            for s in f.services:
                self._add_type(f"{self.package}.{s.name}", s, swift_names, f.rel_path)
                mname = s.name + "Methods"
                if mname in swift_names:
                    raise ProtoError(f"{f.rel_path}: {mname} (from service {s.name}) clashes with {swift_names[mname]}")
                swift_names[mname] = f"service {s.name}"
        self.file_of: Dict[str, str] = {}
        for f in files:
            for m in f.messages:
                self.file_of[m.full_name] = f.rel_path
            for e in f.enums:
                self.file_of[e.full_name] = f.rel_path
        for f in files:
            visible = {f.rel_path} | set(f.imports)
            for m in f.messages:
                self._check_message(f, m, visible)
            for e in f.enums + [e for m in f.messages for e in m.enums]:
                self._check_enum(f, e)
            for s in f.services:
                self._check_service(f, s, visible)

    def _add_type(self, full_name: str, obj, swift_names: Dict[str, str], rel: str) -> None:
        if full_name in self._all_full_names:
            raise ProtoError(f"{rel}: {full_name} is defined twice")
        self._all_full_names[full_name] = obj
        short = full_name.split(".")[-1]
        if short in RESERVED_TYPE_NAMES:
            raise ProtoError(f"{rel}: the name {short} clashes with a Swift or runtime type")
        if swift_names is not None and full_name.count(".") == self.package.count(".") + 1:
            if short in swift_names:
                raise ProtoError(f"{rel}: {short} clashes with {swift_names[short]}")
            swift_names[short] = full_name

    def resolve(self, ref: str, scope: List[str], rel: str, visible: set, line: int):
        """Resolves a type reference the way protoc does: innermost scope first."""
        if ref.startswith("."):
            candidates = [ref[1:]]
        else:
            candidates = []
            scopes = [self.package] + [f"{self.package}." + ".".join(scope[:i]) for i in range(1, len(scope) + 1)]
            for s in reversed(scopes):
                candidates.append(f"{s}.{ref}")
            candidates.append(ref)
        for c in candidates:
            obj = self.messages.get(c) or self.enums.get(c)
            if obj is not None:
                top = ".".join(c.split(".")[: self.package.count(".") + 2])
                if self.file_of.get(top) not in visible:
                    raise ProtoError(f"{rel}:{line}: {ref} is defined in {self.file_of.get(top)}, which is not imported")
                return obj
        raise ProtoError(f"{rel}:{line}: unknown type {ref}")

    def _check_message(self, f: ProtoFile, m: Message, visible: set) -> None:
        numbers = set()
        names = set()
        swift_names = set()
        enum_names = {e.name for e in m.enums}
        if len(enum_names) != len(m.enums):
            raise ProtoError(f"{f.rel_path}:{m.line}: duplicate nested enum in {m.name}")
        for fd in m.fields:
            where = f"{f.rel_path}:{fd.line}: {m.name}.{fd.name}"
            if not (1 <= fd.number <= 536870911) or 19000 <= fd.number <= 19999:
                raise ProtoError(f"{where}: invalid field number {fd.number}")
            if fd.number in numbers:
                raise ProtoError(f"{where}: field number {fd.number} is used twice")
            numbers.add(fd.number)
            if fd.name in names:
                raise ProtoError(f"{where}: duplicate field name")
            names.add(fd.name)
            if not re.match(r"^[a-z][a-z0-9_]*$", fd.name) or "__" in fd.name or fd.name.endswith("_"):
                raise ProtoError(f"{where}: field names must be lower_snake_case")
            if fd.name in C_KEYWORDS:
                raise ProtoError(f"{where}: the field name is a C keyword (protoc-c would rename it)")
            sname = lower_camel(fd.name)
            if sname in RESERVED_MEMBER_NAMES or sname in enum_names:
                raise ProtoError(f"{where}: the Swift name {sname} clashes with a generated member")
            if sname in swift_names:
                raise ProtoError(f"{where}: two fields map to the Swift name {sname}")
            swift_names.add(sname)
            if fd.oneof is not None:
                if fd.oneof in C_KEYWORDS or fd.oneof + "_case" in names:
                    raise ProtoError(f"{where}: unsupported oneof name {fd.oneof}")
            if fd.type_name == "map":
                fd.kind = "map"
            elif fd.type_name in SCALARS:
                fd.kind = "scalar"
            else:
                obj = self.resolve(fd.type_name, m.path, f.rel_path, visible, fd.line)
                fd.kind = "message" if isinstance(obj, Message) else "enum"
                fd.resolved = obj
        # C names of map entries must not clash with nested enums.
        for fd in m.fields:
            if fd.kind == "map" and upper_camel(fd.name) + "Entry" in enum_names:
                raise ProtoError(f"{f.rel_path}:{fd.line}: map entry name clashes with a nested enum")

    def _check_enum(self, f: ProtoFile, e: Enum) -> None:
        seen: Dict[str, str] = {}
        for v in e.values:
            c = enum_case_name(e, v)
            if c in RESERVED_CASE_NAMES:
                raise ProtoError(f"{f.rel_path}:{v.line}: enum value {v.name} maps to the reserved Swift case name {c}")
            if c in seen:
                raise ProtoError(f"{f.rel_path}:{v.line}: {v.name} and {seen[c]} both map to the Swift case {c}")
            seen[c] = v.name

    def _check_service(self, f: ProtoFile, s: Service, visible: set) -> None:
        names = set()
        for r in s.rpcs:
            if r.name in names:
                raise ProtoError(f"{f.rel_path}:{r.line}: rpc {r.name} is declared twice")
            names.add(r.name)
            if r.name[0].lower() + r.name[1:] in ("allFullNames",):
                raise ProtoError(f"{f.rel_path}:{r.line}: rpc name {r.name} clashes with a generated member")
            for attr, ref in (("request_msg", r.request), ("response_msg", r.response)):
                obj = self.resolve(ref, [], f.rel_path, visible, r.line)
                if not isinstance(obj, Message):
                    raise ProtoError(f"{f.rel_path}:{r.line}: {ref} is not a message")
                setattr(r, attr, obj)


# --------------------------------------------------------------------------
# Swift generation
# --------------------------------------------------------------------------

SWIFT_SCALAR = {
    "int32": ("Int32", "0"),
    "int64": ("Int64", "0"),
    "uint32": ("UInt32", "0"),
    "uint64": ("UInt64", "0"),
    "bool": ("Bool", "false"),
    "string": ("String", '""'),
    "bytes": ("[UInt8]", "[]"),
}


def swift_type_of_enum(e: Enum) -> str:
    return ".".join(e.path)


def swift_type_of_message(m: Message) -> str:
    return ".".join(m.path)


def zero_case(e: Enum) -> str:
    return enum_case_name(e, e.values[0])


class Writer:
    def __init__(self):
        self.lines: List[str] = []
        self.level = 0

    def __call__(self, text: str = "") -> None:
        if text == "":
            self.lines.append("")
        else:
            self.lines.append("    " * self.level + text)

    def doc(self, lines: List[str]) -> None:
        for l in lines:
            self(("/// " + l).rstrip())

    def indent(self):
        w = self

        class _Ctx:
            def __enter__(self_inner):
                w.level += 1

            def __exit__(self_inner, *a):
                w.level -= 1
        return _Ctx()

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def proto_decl(fd: Field) -> str:
    if fd.kind == "map":
        t = "map<string, string>"
    else:
        t = fd.type_name
    if fd.repeated:
        t = "repeated " + t
    return f"{t} {fd.name} = {fd.number}"


def field_swift_type(fd: Field) -> Tuple[str, str]:
    """(Swift type, default value expression)."""
    if fd.kind == "map":
        return "[String: String]", "[:]"
    if fd.kind == "scalar":
        base, zero = SWIFT_SCALAR[fd.type_name]
    elif fd.kind == "enum":
        base, zero = swift_type_of_enum(fd.resolved), "." + swift_ident(zero_case(fd.resolved))
    else:
        base, zero = swift_type_of_message(fd.resolved), "nil"
    if fd.repeated:
        return f"[{base}]", "[]"
    if fd.oneof is not None:
        return f"{base}?", "nil"
    if fd.kind == "message":
        return f"{base}?", "nil"
    return base, zero


def field_doc(fd: Field) -> List[str]:
    doc: List[str] = []
    if fd.oneof is not None:
        doc += fd.oneof_doc
        if fd.doc and fd.doc != fd.oneof_doc:
            if doc:
                doc.append("")
            doc += fd.doc
        if doc:
            doc.append("")
        doc.append(f"`nil` when not set. Proto: `oneof {fd.oneof} {{ {proto_decl(fd)}; }}`.")
        return doc
    doc += fd.doc
    if doc:
        doc.append("")
    if fd.kind == "message" and not fd.repeated:
        doc.append(f"`nil` when absent. Proto: `{proto_decl(fd)}`.")
    else:
        doc.append(f"Proto: `{proto_decl(fd)}`.")
    return doc


def c_enum_from_swift(expr: str) -> str:
    return f".init(rawValue: .init(truncatingIfNeeded: {expr}.rawValue))"


def swift_enum_from_c(e: Enum, expr: str) -> str:
    return f"{swift_type_of_enum(e)}(rawValue: Int32(truncatingIfNeeded: {expr}.rawValue))"


def read_single(fd: Field, expr: str) -> str:
    """Swift expression converting the C value `expr` of a non-repeated field."""
    if fd.kind == "scalar":
        t = fd.type_name
        if t == "bool":
            return f"{expr} != 0"
        if t == "string":
            return f"swiftString({expr})"
        if t == "bytes":
            return f"swiftBytes({expr})"
        return expr
    if fd.kind == "enum":
        return swift_enum_from_c(fd.resolved, expr)
    if fd.kind == "message":
        return f"{expr}.map {{ {swift_type_of_message(fd.resolved)}(cMessage: $0) }}"
    raise AssertionError(fd.kind)


def read_element(fd: Field) -> Optional[str]:
    """Closure body converting one C element `$0` of a repeated field, or None
    when the element type is already the Swift type."""
    if fd.kind == "scalar":
        t = fd.type_name
        if t == "bool":
            return "$0 != 0"
        if t == "string":
            return "swiftString($0)"
        if t == "bytes":
            return "swiftBytes($0)"
        return None
    if fd.kind == "enum":
        return swift_enum_from_c(fd.resolved, "$0")
    raise AssertionError(fd.kind)


def write_single(fd: Field, value: str, target: str, in_oneof: bool) -> List[str]:
    """Statements storing Swift `value` into the C lvalue `target`."""
    if fd.kind == "scalar":
        t = fd.type_name
        if t == "bool":
            return [f"{target} = {value} ? 1 : 0"]
        if t == "string":
            if in_oneof:
                # A set oneof string must not point at the descriptor's default
                # (protobuf_c_empty_string), or protobuf-c would skip it.
                return [f"{target} = arena.cString({value})"]
            return [f"if !{value}.isEmpty {{ {target} = arena.cString({value}) }}"]
        if t == "bytes":
            return [f"{target} = arena.binaryData({value})"]
        return [f"{target} = {value}"]
    if fd.kind == "enum":
        return [f"{target} = {c_enum_from_swift(value)}"]
    if fd.kind == "message":
        return [f"{target} = arena.cMessage({value})"]
    raise AssertionError(fd.kind)


def write_element(fd: Field) -> Optional[str]:
    if fd.kind == "scalar":
        t = fd.type_name
        if t == "bool":
            return "$0 ? 1 : 0"
        if t == "string":
            return "Optional(arena.cString($0))"
        if t == "bytes":
            return "arena.binaryData($0)"
        return None
    if fd.kind == "enum":
        return c_enum_from_swift("$0")
    raise AssertionError(fd.kind)


class FileGenerator:
    def __init__(self, schema: Schema, pf: ProtoFile):
        self.schema = schema
        self.pf = pf
        self.pkg = pf.package
        self.w = Writer()

    def generate(self) -> str:
        w = self.w
        w(f"// Generated by {GENERATOR} from {self.pf.rel_path}. Do not edit.")
        if self.pf.header_doc:
            w("//")
            for l in self.pf.header_doc:
                w(("// " + l).rstrip())
        w()
        w("internal import CProtobufC")
        w("internal import PortalProtoC")
        for s in self.pf.services:
            w()
            self.gen_service(s)
        for e in self.pf.enums:
            w()
            self.gen_enum(e)
        for m in self.pf.messages:
            w()
            self.gen_message(m)
        for m in self.pf.messages:
            w()
            self.gen_bridge(m)
        return w.text()

    # -- services --
    def gen_service(self, s: Service) -> None:
        w = self.w
        full = f"{self.pkg}.{s.name}"
        w.doc(s.doc + ([""] if s.doc else []) + [f"The methods of service `{full}`, one descriptor per rpc."])
        w(f"public enum {s.name}Methods {{")
        with w.indent():
            for r in s.rpcs:
                req = swift_type_of_message(r.request_msg)
                resp = swift_type_of_message(r.response_msg)
                w.doc(r.doc + ([""] if r.doc else []) + [f"`{full}/{r.name}`: `{req}` → `{resp}`."])
                name = swift_ident(r.name[0].lower() + r.name[1:])
                w(f"public static let {name} = MethodDescriptor<{req}, {resp}>(")
                w(f"    service: \"{full}\", name: \"{r.name}\")")
            w()
            w(f"/// The full names of every method of `{full}`, in declaration order.")
            w("public static let allFullNames: [String] = [")
            for r in s.rpcs:
                w(f"    \"{full}/{r.name}\",")
            w("]")
        w("}")

    # -- enums --
    def gen_enum(self, e: Enum) -> None:
        w = self.w
        doc = list(e.doc)
        if doc:
            doc.append("")
        doc.append(f"Proto enum `{e.full_name}`. Proto3 enums are open: values this")
        doc.append("version does not know decode to `.unrecognized(value)` and encode back unchanged.")
        w.doc(doc)
        w(f"public enum {e.name}: Sendable, Hashable, RawRepresentable {{")
        with w.indent():
            for v in e.values:
                w.doc(v.doc + ([""] if v.doc else []) + [f"`{v.name}` = {v.number}."])
                w(f"case {swift_ident(enum_case_name(e, v))}")
            w("/// A value this version of the contract does not know.")
            w("case unrecognized(Int32)")
            w()
            w("/// The enum value with wire number `rawValue`; unknown numbers become `.unrecognized`.")
            w("public init(rawValue: Int32) {")
            with w.indent():
                w("switch rawValue {")
                for v in e.values:
                    w(f"case {v.number}: self = .{swift_ident(enum_case_name(e, v))}")
                w("default: self = .unrecognized(rawValue)")
                w("}")
            w("}")
            w()
            w("/// The wire number of this value.")
            w("public var rawValue: Int32 {")
            with w.indent():
                w("switch self {")
                for v in e.values:
                    w(f"case .{swift_ident(enum_case_name(e, v))}: return {v.number}")
                w("case .unrecognized(let value): return value")
                w("}")
            w("}")
            w()
            w("/// Every value declared in the proto file, in declaration order.")
            w(f"public static let knownCases: [{e.name}] = [")
            for v in e.values:
                w(f"    .{swift_ident(enum_case_name(e, v))},")
            w("]")
            w()
            w("/// Values are equal when their wire numbers are: `.unrecognized(1)` equals the case numbered 1.")
            w(f"public static func == (lhs: {e.name}, rhs: {e.name}) -> Bool {{ lhs.rawValue == rhs.rawValue }}")
            w()
            w("/// Hashes the wire number, consistently with `==`.")
            w("public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }")
        w("}")

    # -- messages --
    def gen_message(self, m: Message) -> None:
        w = self.w
        doc = list(m.doc)
        if doc:
            doc.append("")
        doc.append(f"Proto message `{m.full_name}`.")
        w.doc(doc)
        w(f"public struct {m.name}: ProtoMessage {{")
        with w.indent():
            w(f"/// `\"{m.full_name}\"`.")
            w(f"public static var protoMessageName: String {{ \"{m.full_name}\" }}")
            for e in m.enums:
                w()
                self.gen_enum(e)
            for fd in m.fields:
                w()
                w.doc(field_doc(fd))
                t, _ = field_swift_type(fd)
                w(f"public var {swift_ident(lower_camel(fd.name))}: {t}")
            w()
            if m.fields:
                w("/// A message with every field at its proto3 default.")
                w("public init() {")
                with w.indent():
                    for fd in m.fields:
                        _, d = field_swift_type(fd)
                        w(f"self.{lower_camel(fd.name)} = {d}")
                w("}")
                w()
                w("/// A message with the given fields; the others keep their proto3 defaults.")
                params = []
                for fd in m.fields:
                    t, d = field_swift_type(fd)
                    params.append(f"{swift_ident(lower_camel(fd.name))}: {t} = {d}")
                w("public init(")
                with w.indent():
                    for i, p in enumerate(params):
                        w(p + ("," if i < len(params) - 1 else ""))
                w(") {")
                with w.indent():
                    for fd in m.fields:
                        n = lower_camel(fd.name)
                        w(f"self.{n} = {swift_ident(n)}")
                w("}")
            else:
                w("/// The message (it has no fields).")
                w("public init() {}")
            w()
            w("/// Decodes the message from its wire bytes, which are only read during the call.")
            w("///")
            w("/// - Throws: `ProtoDecodingError` when the bytes are not a valid encoding, or a")
            w("///   string field holds invalid UTF-8 or a NUL byte.")
            w("public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(ProtoDecodingError) {")
            w("    self = try decodeMessage(Self.self, from: bytes)")
            w("}")
            w()
            w("/// The message's wire encoding (deterministic: map entries sorted by key).")
            w("public func serializedBytes() -> [UInt8] {")
            w("    encodeMessage(self)")
            w("}")
        w("}")

    def gen_bridge(self, m: Message) -> None:
        w = self.w
        ctype = c_type_name(self.pkg, m.path)
        cfun = c_func_prefix(self.pkg, m.path)
        w(f"extension {m.name}: CBridgedMessage {{")
        with w.indent():
            w(f"typealias CMessage = {ctype}")
            w()
            w("static var cDescriptor: UnsafePointer<ProtobufCMessageDescriptor> {")
            w(f"    var message = {ctype}()")
            w(f"    {cfun}__init(&message)")
            w("    return message.base.descriptor")
            w("}")
            w()
            w(f"static func cInit(_ message: UnsafeMutablePointer<{ctype}>) {{ {cfun}__init(message) }}")
            w()
            w(f"static func cUnpack(_ length: Int, _ data: UnsafePointer<UInt8>) -> UnsafeMutablePointer<{ctype}>? {{")
            w(f"    {cfun}__unpack(nil, length, data)")
            w("}")
            w()
            w(f"static func cFreeUnpacked(_ message: UnsafeMutablePointer<{ctype}>) {{")
            w(f"    {cfun}__free_unpacked(message, nil)")
            w("}")
            w()
            w(f"static func cPackedSize(_ message: UnsafePointer<{ctype}>) -> Int {{")
            w(f"    {cfun}__get_packed_size(message)")
            w("}")
            w()
            w(f"static func cPack(_ message: UnsafePointer<{ctype}>, into out: UnsafeMutablePointer<UInt8>) -> Int {{")
            w(f"    {cfun}__pack(message, out)")
            w("}")
            w()
            w(f"init(cMessage: UnsafePointer<{ctype}>) {{")
            with w.indent():
                if m.fields:
                    w("let c = cMessage.pointee")
                    w("self.init(")
                    with w.indent():
                        for i, fd in enumerate(m.fields):
                            w(f"{swift_ident(lower_camel(fd.name))}: {self.read_expr(fd)}" + ("," if i < len(m.fields) - 1 else ""))
                    w(")")
                else:
                    w("self.init()")
            w("}")
            w()
            if m.fields:
                w(f"func copy(into c: UnsafeMutablePointer<{ctype}>, arena: CArena) {{")
                with w.indent():
                    for fd in m.fields:
                        self.gen_write(m, fd)
                w("}")
            else:
                w(f"func copy(into c: UnsafeMutablePointer<{ctype}>, arena: CArena) {{}}")
        w("}")

    def read_expr(self, fd: Field) -> str:
        c = f"c.{fd.name}"
        if fd.oneof is not None:
            return f"c.{fd.oneof}_case.rawValue == {fd.number} ? {read_single(fd, c)} : nil"
        if fd.kind == "map":
            return f"swiftMap({c}, count: c.n_{fd.name}) {{ ($0.pointee.key, $0.pointee.value) }}"
        if fd.repeated:
            if fd.kind == "message":
                return f"swiftMessages({c}, count: c.n_{fd.name})"
            conv = read_element(fd)
            if conv is None:
                return f"swiftArray({c}, count: c.n_{fd.name})"
            return f"swiftArray({c}, count: c.n_{fd.name}).map {{ {conv} }}"
        return read_single(fd, c)

    def gen_write(self, m: Message, fd: Field) -> None:
        w = self.w
        n = "self." + lower_camel(fd.name)
        target = f"c.pointee.{fd.name}"
        if fd.oneof is not None:
            w(f"if let value = {n} {{")
            with w.indent():
                w(f"c.pointee.{fd.oneof}_case = .init(rawValue: {fd.number})")
                for s in write_single(fd, "value", target, in_oneof=True):
                    w(s)
            w("}")
        elif fd.kind == "map":
            entry_path = m.path + [upper_camel(fd.name) + "Entry"]
            entry_init = c_func_prefix(self.pkg, entry_path) + "__init"
            w(f"if !{n}.isEmpty {{")
            with w.indent():
                w(f"c.pointee.n_{fd.name} = {n}.count")
                w(f"{target} = arena.mapEntries({n}, initialize: {entry_init}, key: \\.key, value: \\.value)")
            w("}")
        elif fd.repeated:
            w(f"if !{n}.isEmpty {{")
            with w.indent():
                w(f"c.pointee.n_{fd.name} = {n}.count")
                if fd.kind == "message":
                    w(f"{target} = arena.cMessages({n})")
                else:
                    conv = write_element(fd)
                    if conv is None:
                        w(f"{target} = arena.array({n})")
                    else:
                        w(f"{target} = arena.array({n}) {{ {conv} }}")
            w("}")
        elif fd.kind == "message":
            w(f"if let value = {n} {{ {target} = arena.cMessage(value) }}")
        elif fd.kind == "scalar" and fd.type_name == "bytes":
            w(f"if !{n}.isEmpty {{ {target} = arena.binaryData({n}) }}")
        else:
            for s in write_single(fd, n, target, in_oneof=False):
                w(s)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proto-root", required=True, help="the -I directory the import paths are relative to")
    ap.add_argument("--out", required=True, help="the directory to write the .pb.swift files into")
    ap.add_argument("protos", nargs="+", help=".proto files under --proto-root")
    args = ap.parse_args(argv)

    root = os.path.abspath(args.proto_root)
    files: List[ProtoFile] = []
    try:
        for p in sorted(os.path.abspath(x) for x in args.protos):
            rel = os.path.relpath(p, root)
            if rel.startswith(".."):
                raise ProtoError(f"{p} is not under {root}")
            with open(p, encoding="utf-8") as fh:
                text = fh.read()
            files.append(Parser(lex(rel, text), rel).parse_file())
        schema = Schema(files)
        outputs: Dict[str, str] = {}
        for pf in files:
            name = swift_file_name(pf.rel_path)
            if name in outputs:
                raise ProtoError(f"two input files map to {name}")
            outputs[name] = FileGenerator(schema, pf).generate()
    except ProtoError as e:
        print(f"gen_swift_messages: error: {e}", file=sys.stderr)
        return 1

    os.makedirs(args.out, exist_ok=True)
    for old in sorted(os.listdir(args.out)):
        if old.endswith(".pb.swift") and old not in outputs:
            os.remove(os.path.join(args.out, old))
    for name in sorted(outputs):
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(outputs[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
