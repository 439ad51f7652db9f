import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { KERNEL_NAME, KERNEL_SPEC } from '../kernel/spec.js';
import { notFound, parseInput, useJupyterApi } from './http.js';

export interface KernelspecsPluginOptions {
  baseUrl?: string;
}

export const KERNEL_LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">
<rect width="64" height="64" rx="10" fill="#161616"/>
<g fill="#faff69">
<rect x="10" y="12" width="6" height="40"/>
<rect x="20" y="12" width="6" height="40"/>
<rect x="30" y="12" width="6" height="40"/>
<rect x="40" y="12" width="6" height="40"/>
<rect x="50" y="27" width="6" height="10"/>
</g>
</svg>
`;

const RESOURCES: Record<string, { type: string; body: string }> = {
  'logo-svg.svg': { type: 'image/svg+xml', body: KERNEL_LOGO_SVG },
};

const SpecParams = z.object({ name: z.string().regex(/^[\w.-]{1,64}$/, 'invalid kernel spec name') });
const ResourceParams = SpecParams.extend({ file: z.string().regex(/^[\w.-]{1,64}$/, 'invalid resource name') });

export function kernelSpecModel(baseUrl = '/') {
  const prefix = `${baseUrl.replace(/\/$/, '')}/kernelspecs/${KERNEL_NAME}`;
  return {
    name: KERNEL_SPEC.name,
    spec: KERNEL_SPEC.spec,
    resources: { ...KERNEL_SPEC.resources, 'logo-svg': `${prefix}/logo-svg.svg` },
  };
}

export const kernelspecsPlugin: FastifyPluginAsync<KernelspecsPluginOptions> = async (app, options) => {
  useJupyterApi(app);
  const model = kernelSpecModel(options.baseUrl);

  app.get('/api/kernelspecs', async () => ({ default: KERNEL_NAME, kernelspecs: { [KERNEL_NAME]: model } }));

  app.get('/api/kernelspecs/:name', async (request) => {
    const { name } = parseInput(SpecParams, request.params, 'params');
    if (name !== KERNEL_NAME) throw notFound(`Kernel spec ${name} not found`);
    return model;
  });

  app.get('/kernelspecs/:name/:file', async (request, reply) => {
    const { name, file } = parseInput(ResourceParams, request.params, 'params');
    const resource = name === KERNEL_NAME ? RESOURCES[file] : undefined;
    if (!resource) throw notFound(`Kernel spec resource ${name}/${file} not found`);
    return reply.type(resource.type).header('cache-control', 'public, max-age=86400').send(resource.body);
  });
};
