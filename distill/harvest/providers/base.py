"""The Provider protocol and the base every provider shares: result type, clients, the POST.

Providers are built on the official SDKs with `max_retries=0`: retries live in one place (the
harvest runner, with tenacity) and rate limits in another (limits.py). SDK errors are translated
at one boundary (sdk_errors.py) into distill's own tree, with the API key scrubbed. The SDK's
HTTP stack is the teacher's `transport`: httpx2 (pools in shards) or the SDK's own aiohttp client.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import math
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar

import httpx2

from distill.config import TeacherConfig
from distill.errors import ConfigError, TransientError
from distill.harvest.providers.sdk_errors import SDKErrors, translate_errors
from distill.records import Usage

if TYPE_CHECKING:  # the SDKs are imported at run time only by the provider that uses one
    import anthropic
    import openai

    SDKClient: TypeAlias = openai.AsyncOpenAI | anthropic.AsyncAnthropic

SAMPLE_INDEX_HEADER = "x-distill-sample-index"


@dataclass(frozen=True)
class Completion:
    model: str
    reasoning: str
    reasoning_kind: str
    content: str
    finish_reason: str
    usage: Usage
    headers: Mapping[str, str]


class Provider(Protocol):
    provider_name: ClassVar[str]
    base_url: str

    def request_params(self, sample_index: int) -> dict[str, Any]:
        """The body parameters besides model and messages: what goes into the request key."""
        ...

    async def complete(
        self, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int
    ) -> Completion: ...

    async def aclose(self) -> None: ...


C = TypeVar("C")
CONNECTIONS_PER_POOL = 32
# No overall or read timeout in the HTTP stack: the runner's deadline (timeout_s) is the one
# that counts, and keep-alive bytes must not reset it.
HTTP_TIMEOUT = httpx2.Timeout(None, connect=30.0)


@dataclass(frozen=True)
class SDK:
    """What a provider takes from its SDK (imported only when a teacher of its kind is used)."""

    client: Callable[..., SDKClient]
    errors: SDKErrors
    aiohttp_client: Callable[..., httpx2.AsyncClient]  # the SDK's DefaultAioHttpClient


class ClientShards(Generic[C]):
    """SDK clients over several small httpx2 pools, used in turn.

    httpcore's pool scans all its connections for every request it assigns, so one pool of
    hundreds of connections spends more CPU than the requests themselves; pools of 32 do not.
    """

    def __init__(
        self,
        make: Callable[[httpx2.AsyncClient], C],
        in_flight: int,
        http_client: Callable[..., httpx2.AsyncClient] = httpx2.AsyncClient,
        pool_size: int = CONNECTIONS_PER_POOL,
    ) -> None:
        count = max(1, math.ceil(in_flight / pool_size))
        size = math.ceil(in_flight / count)
        tls = _shared_tls_context()  # loading the CA bundle costs ~50 ms per context
        self._http = [
            http_client(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=HTTP_TIMEOUT,
                verify=tls,
            )
            for _ in range(count)
        ]
        self._clients = [make(http) for http in self._http]
        self._turn = itertools.cycle(self._clients)

    def next(self) -> C:
        return next(self._turn)

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose()


def _require_aiohttp(teacher: str) -> None:
    if importlib.util.find_spec("aiohttp") is None:
        raise ConfigError(
            f'teacher {teacher!r}: transport = "aiohttp" needs aiohttp: '
            "pip install 'distill[aiohttp]', or set transport = \"httpx\""
        )


@functools.cache
def _shared_tls_context() -> ssl.SSLContext:
    return httpx2.create_ssl_context()


def parse_json_body(raw: bytes, teacher: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise TransientError(
            f"teacher {teacher!r} sent a malformed JSON body", kind="malformed"
        ) from None
    if not isinstance(data, dict):
        raise TransientError(
            f"teacher {teacher!r} sent JSON that is not an object", kind="malformed"
        )
    return data


class SDKProvider(ABC):
    """A provider on an official SDK: clients, the POST, error translation, closing.

    A subclass keeps only its wire differences: which SDK, which endpoint, the body it sends
    and how it reads the answer.
    """

    provider_name: ClassVar[str]
    default_base_url: ClassVar[str]
    endpoint: ClassVar[str]

    def __init__(self, name: str, teacher: TeacherConfig, api_key: str) -> None:
        self.name = name
        self.teacher = teacher
        self.base_url = teacher.base_url or self.default_base_url
        self._secret = api_key
        sdk = self._load_sdk()
        self._errors = sdk.errors
        sdk_base_url = self._sdk_base_url()
        http_client: Callable[..., httpx2.AsyncClient] = httpx2.AsyncClient
        pool_size = CONNECTIONS_PER_POOL
        if teacher.transport == "aiohttp":
            _require_aiohttp(name)
            # aiohttp's pool hands out a free connection without scanning them all: one pool.
            http_client, pool_size = sdk.aiohttp_client, teacher.limits.max_in_flight
        self._clients = ClientShards(
            lambda http: sdk.client(
                api_key=api_key or "not-needed",
                base_url=sdk_base_url,
                max_retries=0,
                timeout=teacher.timeout_s,
                http_client=http,
            ),
            teacher.limits.max_in_flight,
            http_client,
            pool_size,
        )

    @abstractmethod
    def _load_sdk(self) -> SDK:
        """Import the SDK (only when a teacher of this kind is used): its clients and errors."""

    def _sdk_base_url(self) -> str:
        return self.base_url

    @abstractmethod
    def request_params(self, sample_index: int) -> dict[str, Any]:
        """The body parameters besides model and messages: what goes into the request key."""

    @abstractmethod
    def _body(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """The JSON body this API takes."""

    @abstractmethod
    def _completion(self, data: dict[str, Any], headers: Mapping[str, str]) -> Completion:
        """The parsed answer, from the response body as JSON."""

    async def complete(
        self, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int
    ) -> Completion:
        with translate_errors(self._errors, self.teacher, self.name, self._secret):
            # The SDK's generic post: its auth, base URL and typed errors, without the
            # per-call TypedDict transform of create() (1.6 ms of CPU a request).
            response = await self._clients.next().post(
                self.endpoint,
                body=self._body(messages, params),
                cast_to=httpx2.Response,
                options={"headers": {SAMPLE_INDEX_HEADER: str(sample_index)}},
            )
            raw = response.content
        return self._completion(parse_json_body(raw, self.name), response.headers)

    # What a Batch API lane (distill.harvest.batch) takes from the sync provider, so a batch
    # item is the very request the sync POST would send and its answer is read the same way.

    def body(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """The JSON body the sync POST sends for these messages and parameters."""
        return self._body(messages, params)

    def completion(
        self, data: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> Completion:
        """The answer read from a response body (a batch item's has no headers)."""
        return self._completion(data, headers or {})

    def client(self) -> SDKClient:
        """One of this provider's SDK clients (max_retries=0, the teacher's transport)."""
        return self._clients.next()

    def translating(self) -> AbstractContextManager[None]:
        """The error boundary the sync POST uses: SDK errors → distill's, the key scrubbed."""
        return translate_errors(self._errors, self.teacher, self.name, self._secret)

    async def aclose(self) -> None:
        await self._clients.aclose()
