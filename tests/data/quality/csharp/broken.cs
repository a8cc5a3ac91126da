public void Close() throws IOException
{
    if (open) { open = false }
}
