// Edit the greeting and save: the service swaps this plugin without restarting.
let greeting = 'hello';

export function init(ctx) {
  greeting = ctx.config.greeting ?? greeting;
  ctx.log.info(`greet ${ctx.version} ready`);
}

export function hello(name) {
  return `${greeting} ${name ?? 'world'}`;
}
