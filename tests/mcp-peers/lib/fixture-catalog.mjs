// What the fixture server offers: one McpServer per session, built from the same catalog.
// The conformance suite's server scenarios define the test_* tools, resources and prompts (the
// scenario descriptions in @modelcontextprotocol/conformance say what each must return); the rest
// are for the gateway's own tests.
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
    CreateMessageResultSchema,
    SubscribeRequestSchema,
    UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { PNG_BASE64, WAV_BASE64 } from './media.mjs';
import { registerGatewayTools } from './gateway-tools.mjs';
import { log, progress, sleep, text } from './fixture-util.mjs';

export const SERVER_INFO = { name: 'approval-engine-fixture', version: '1.0.0' };

/**
 * State shared by every session of one fixture process: tools added at runtime appear in all
 * sessions, and the outcome of `slow` calls is readable from any session (a gateway may well use
 * a different upstream session for the follow-up call).
 */
export function createFixtureState() {
    return {
        servers: new Set(), // live McpServer instances
        dynamicTools: new Map(), // name -> { description }
        slow: { inFlight: 0, cancelledTotal: 0, completedTotal: 0, last: null, waiters: new Set() },
    };
}

/** A new McpServer with the whole catalog; the caller connects it to a transport. */
export function createFixtureServer(state) {
    const server = new McpServer(SERVER_INFO, {
        capabilities: {
            logging: {},
            tools: { listChanged: true },
            resources: { subscribe: true, listChanged: true },
            prompts: { listChanged: true },
        },
        instructions: 'Test fixture for the Approval Engine gateway. Nothing here touches real data.',
    });
    registerConformanceTools(server);
    registerConformanceResources(server);
    registerConformancePrompts(server);
    registerGatewayTools(server, state);
    return server;
}

/** Elicits on the calling request's stream (so it also works for clients without a GET stream). */
function elicit(server, extra, params) {
    return server.server.elicitInput(params, { relatedRequestId: extra.requestId, signal: extra.signal });
}

function registerConformanceTools(server) {
    server.registerTool(
        'test_simple_text',
        { description: 'Returns one text block.', annotations: { readOnlyHint: true, openWorldHint: false } },
        () => ({ content: [text('This is a simple text response for testing.')] }),
    );
    server.registerTool(
        'test_image_content',
        { description: 'Returns a 1x1 red PNG image.', annotations: { readOnlyHint: true } },
        () => ({ content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }] }),
    );
    server.registerTool(
        'test_audio_content',
        { description: 'Returns 10 ms of silent WAV audio.', annotations: { readOnlyHint: true } },
        () => ({ content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }] }),
    );
    server.registerTool(
        'test_embedded_resource',
        { description: 'Returns an embedded text resource.', annotations: { readOnlyHint: true } },
        () => ({
            content: [{
                type: 'resource',
                resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
            }],
        }),
    );
    server.registerTool(
        'test_multiple_content_types',
        { description: 'Returns text, an image and an embedded resource.', annotations: { readOnlyHint: true } },
        () => ({
            content: [
                text('Multiple content types test:'),
                { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
                {
                    type: 'resource',
                    resource: {
                        uri: 'test://mixed-content-resource',
                        mimeType: 'application/json',
                        text: JSON.stringify({ test: 'data', value: 123 }),
                    },
                },
            ],
        }),
    );
    server.registerTool(
        'test_tool_with_logging',
        { description: 'Sends three info log messages, 50 ms apart, while it runs.' },
        async extra => {
            await log(server, extra, 'info', 'Tool execution started');
            await sleep(50, extra.signal);
            await log(server, extra, 'info', 'Tool processing data');
            await sleep(50, extra.signal);
            await log(server, extra, 'info', 'Tool execution completed');
            return { content: [text('Tool with logging executed successfully')] };
        },
    );
    server.registerTool(
        'test_tool_with_progress',
        { description: 'Reports progress 0, 50 and 100 of 100, 50 ms apart, when given a progress token.' },
        async extra => {
            await progress(extra, 0, 100);
            await sleep(50, extra.signal);
            await progress(extra, 50, 100);
            await sleep(50, extra.signal);
            await progress(extra, 100, 100);
            const token = extra._meta?.progressToken;
            return { content: [text(token === undefined ? 'No progress token provided' : `Progress reported for token ${token}`)] };
        },
    );
    server.registerTool(
        'test_error_handling',
        { description: 'Always fails with a tool error (isError: true).' },
        () => {
            throw new Error('This tool intentionally returns an error for testing');
        },
    );
    server.registerTool(
        'test_sampling',
        { description: 'Asks the client to sample an LLM with the given prompt.', inputSchema: { prompt: z.string().describe('The prompt to send to the LLM') } },
        async ({ prompt }, extra) => {
            // Fails (as a tool error) when the client did not advertise sampling, as the scenario asks.
            if (!server.server.getClientCapabilities()?.sampling) {
                throw new Error('The client does not support sampling.');
            }
            const result = await extra.sendRequest(
                {
                    method: 'sampling/createMessage',
                    params: { messages: [{ role: 'user', content: text(prompt) }], maxTokens: 100 },
                },
                CreateMessageResultSchema,
            );
            const reply = result.content?.type === 'text' ? result.content.text : JSON.stringify(result.content);
            return { content: [text(`LLM response: ${reply}`)] };
        },
    );
    server.registerTool(
        'test_elicitation',
        { description: 'Asks the client for a username and an email address.', inputSchema: { message: z.string().describe('The message to show the user') } },
        async ({ message }, extra) => {
            const result = await elicit(server, extra, {
                message,
                requestedSchema: {
                    type: 'object',
                    properties: {
                        username: { type: 'string', description: "User's response" },
                        email: { type: 'string', description: "User's email address" },
                    },
                    required: ['username', 'email'],
                },
            });
            return { content: [text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
        },
    );
    server.registerTool(
        'test_elicitation_sep1034_defaults',
        { description: 'Elicits a form whose fields all carry default values (SEP-1034).' },
        async extra => {
            const result = await elicit(server, extra, {
                message: 'Please review the defaults and accept',
                requestedSchema: {
                    type: 'object',
                    properties: {
                        name: { type: 'string', description: 'User name', default: 'John Doe' },
                        age: { type: 'integer', description: 'User age', default: 30 },
                        score: { type: 'number', description: 'User score', default: 95.5 },
                        status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
                        verified: { type: 'boolean', description: 'Verification status', default: true },
                    },
                },
            });
            return { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
        },
    );
    server.registerTool(
        'test_elicitation_sep1330_enums',
        { description: 'Elicits a form with every enum shape (SEP-1330).' },
        async extra => {
            const result = await elicit(server, extra, {
                message: 'Please choose from each list',
                requestedSchema: {
                    type: 'object',
                    properties: {
                        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
                        titledSingle: {
                            type: 'string',
                            oneOf: [
                                { const: 'value1', title: 'First Option' },
                                { const: 'value2', title: 'Second Option' },
                                { const: 'value3', title: 'Third Option' },
                            ],
                        },
                        legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
                        untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
                        titledMulti: {
                            type: 'array',
                            items: {
                                anyOf: [
                                    { const: 'value1', title: 'First Choice' },
                                    { const: 'value2', title: 'Second Choice' },
                                    { const: 'value3', title: 'Third Choice' },
                                ],
                            },
                        },
                    },
                },
            });
            return { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
        },
    );
    // SEP-1613: the listing must keep $schema, $defs and additionalProperties. The SDK converts zod
    // to draft-07, so the 2020-12 keywords come in as schema metadata (address keeps its inline
    // properties beside the $ref, which 2020-12 allows).
    const addressProperties = { street: { type: 'string' }, city: { type: 'string' } };
    const address = z.object({ street: z.string().optional(), city: z.string().optional() });
    server.registerTool(
        'json_schema_2020_12_tool',
        {
            description: 'Tool with JSON Schema 2020-12 features',
            inputSchema: z
                .strictObject({ name: z.string().optional(), address: address.optional().meta({ $ref: '#/$defs/address' }) })
                .meta({
                    $schema: 'https://json-schema.org/draft/2020-12/schema',
                    $defs: { address: { type: 'object', properties: addressProperties } },
                }),
        },
        args => ({ content: [text(`JSON Schema 2020-12 tool called with ${JSON.stringify(args)}`)] }),
    );
    server.registerTool(
        'test_reconnection',
        { description: 'Closes its SSE stream mid-call; the client must resume with Last-Event-ID to get the result (SEP-1699).' },
        async extra => {
            // Only offered when the session is resumable (event store, protocol >= 2025-11-25).
            extra.closeSSEStream?.();
            await sleep(50, extra.signal);
            return { content: [text('Reconnection test completed successfully')] };
        },
    );
}

function registerConformanceResources(server) {
    server.registerResource(
        'static-text',
        'test://static-text',
        { description: 'A static text resource.', mimeType: 'text/plain' },
        uri => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }),
    );
    server.registerResource(
        'static-binary',
        'test://static-binary',
        { description: 'A static binary resource (a 1x1 red PNG).', mimeType: 'image/png' },
        uri => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG_BASE64 }] }),
    );
    server.registerResource(
        'watched-resource',
        'test://watched-resource',
        { description: 'A resource clients may subscribe to; touch_resource reports it as updated.', mimeType: 'text/plain' },
        uri => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Watched resource, read at ${new Date().toISOString()}` }] }),
    );
    server.registerResource(
        'template-data',
        new ResourceTemplate('test://template/{id}/data', {
            list: undefined,
            complete: { id: value => ['123', '456', '789'].filter(id => id.startsWith(value)) },
        }),
        { description: 'Data for the given id.', mimeType: 'application/json' },
        (uri, { id }) => ({
            contents: [{
                uri: uri.href,
                mimeType: 'application/json',
                text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
            }],
        }),
    );

    // McpServer has no subscription support of its own: track subscribed URIs per session here.
    const subscriptions = new Set();
    server.subscriptions = subscriptions;
    server.server.setRequestHandler(SubscribeRequestSchema, request => {
        subscriptions.add(request.params.uri);
        return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, request => {
        subscriptions.delete(request.params.uri);
        return {};
    });
}

function registerConformancePrompts(server) {
    server.registerPrompt(
        'test_simple_prompt',
        { description: 'A prompt without arguments.' },
        () => ({ messages: [{ role: 'user', content: text('This is a simple prompt for testing.') }] }),
    );
    const suggestions = ['paris', 'park', 'party', 'test-value-1', 'test-value-2'];
    server.registerPrompt(
        'test_prompt_with_arguments',
        {
            description: 'A prompt with two required arguments; arg1 offers completions.',
            argsSchema: {
                arg1: completable(z.string().describe('First test argument'), value => suggestions.filter(s => s.startsWith(value ?? ''))),
                arg2: z.string().describe('Second test argument'),
            },
        },
        ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`) }] }),
    );
    server.registerPrompt(
        'test_prompt_with_embedded_resource',
        { description: 'A prompt that embeds the given resource.', argsSchema: { resourceUri: z.string().describe('URI of the resource to embed') } },
        ({ resourceUri }) => ({
            messages: [
                { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
                { role: 'user', content: text('Please process the embedded resource above.') },
            ],
        }),
    );
    server.registerPrompt(
        'test_prompt_with_image',
        { description: 'A prompt with an image.' },
        () => ({
            messages: [
                { role: 'user', content: { type: 'image', data: PNG_BASE64, mimeType: 'image/png' } },
                { role: 'user', content: text('Please analyze the image above.') },
            ],
        }),
    );
}
