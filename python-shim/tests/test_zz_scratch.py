from test_kernel import kernel, execute  # noqa
def test_await(kernel):
    _id, _km, kc, _w = kernel
    reply, outputs = execute(kc, '%%pnav --no-save\nimport asyncio\nawait asyncio.sleep(0)\nprint("after await")')
    print(reply['status'], reply.get('ename'), reply.get('evalue'))
    for m in outputs: print(m['msg_type'], str(m['content'])[:300])
    reply, outputs = execute(kc, '%%pnav --no-save --quiet\n1+1;')
    print('semicolon', [m['msg_type'] for m in outputs])
