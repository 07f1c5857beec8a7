import Koa from 'koa';
import request from 'supertest';
import { Cache, createEnvironment, views } from '../../src';
import { viewsFolder } from '../support/templates';

describe('views(env): ctx.render', () => {
  const folder = viewsFolder();
  folder.write('hello.njk', '<h1>{{ greeting }}, {{ user }}</h1>{% cache 60, "f", user %}{{ user | upper }}{% endcache %}');
  folder.write('broken.njk', '{{ nothing.here() }}');
  const env = createEnvironment({ cache: new Cache(), views: folder.dir });

  function appRendering(name: string, locals?: Record<string, unknown>) {
    const app = new Koa();
    const logged: Error[] = [];
    app.silent = true;
    app.on('error', (err: Error) => logged.push(err));
    app.use(views(env));
    app.use(async (ctx) => {
      ctx.state.greeting = 'Hello';
      ctx.state.user = 'state-user';
      ctx.set('X-Returned', String((await ctx.render(name, locals)).length));
    });
    return { app, logged };
  }

  it('renders ctx.state merged with locals as HTML and resolves the HTML', async () => {
    const { app } = appRendering('hello.njk', { user: 'ann' });
    const res = await request(app.callback()).get('/');
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/html');
    expect(res.text).toBe('<h1>Hello, ann</h1>ANN');
    expect(res.headers['x-returned']).toBe(String(res.text.length));
  });

  it('turns a template error into a 500 whose logged error names the template', async () => {
    const { app, logged } = appRendering('broken.njk');
    const res = await request(app.callback()).get('/');
    expect(res.status).toBe(500);
    expect(res.text).toBe('Internal Server Error');
    expect(logged).toHaveLength(1);
    expect(logged[0].message).toMatch(/^rendering template "broken\.njk" failed: \(.*broken\.njk\)/);
    expect((logged[0] as Error & { template: string }).template).toBe('broken.njk');
  });

  it('reports a missing template as a 500 naming it', async () => {
    const { app, logged } = appRendering('nope.njk');
    expect((await request(app.callback()).get('/')).status).toBe(500);
    expect(logged[0].message).toMatch(/rendering template "nope\.njk" failed: .*template not found/);
  });
});
