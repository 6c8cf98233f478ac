// The shape every area plugin shares: src/modules/<area>/index.ts is `(app, opts: AreaOptions)`, and
// src/app.ts registers each area of AREAS in turn after the cross-cutting plugins.
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.js';
import type { RegistryBackend } from './domains/registry.js';
import type { Resolver } from '../lib/ssrf-guard.js';

export interface AreaOptions {
  config: Config;
  /** The registry backend (domains); default the built-in one. */
  registry?: RegistryBackend;
  /** How webhook hosts are resolved (tests inject one); default the system resolver. */
  resolver?: Resolver;
  /** The clock of rules that tests move (fair-use windows, incident days); default now. */
  now?: () => Date;
}

/** An area: its plugin, and a name for logs and docs. */
export interface Area {
  name: string;
  plugin: FastifyPluginAsync<AreaOptions>;
}

export type AreaList = readonly Area[];
